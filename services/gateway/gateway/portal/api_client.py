"""The portal's client of the public API: every page reads and writes through /api/v1 with the
signed-in person's bearer token, so the services enforce every permission and every scope
exactly as for any other API client. The calls go in-process through the gateway itself
(routing, token check, rate limits per user and per the browser's address, the dashboard)."""

import re
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.proxy import proxy
from shared import context


class SignInRequired(Exception):
    """No usable session: the portal route answers with the sign-in page instead."""


class PortalApi:
    def __init__(self, request: Request, access_token: str | None = None):
        self._request = request
        self._access_token = access_token

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, json: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.call("POST", path, json=json, headers=headers)

    async def patch(self, path: str, json: Any = None) -> httpx.Response:
        return await self.call("PATCH", path, json=json)

    async def delete(self, path: str) -> httpx.Response:
        return await self.call("DELETE", path)

    async def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                   headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One API call. A 401 for a signed-in person means the session ended (signed out
        elsewhere, member deleted): the page goes to sign-in rather than showing an error."""
        transport = httpx.ASGITransport(app=self._request.app, client=(self._client_host(), 0))
        async with httpx.AsyncClient(transport=transport, base_url=str(self._request.base_url), trust_env=False,
                                     timeout=30) as client:
            answer = await client.request(method, path, params=_without_empty(params), json=json,
                                          headers=self._headers(headers))
        if answer.status_code == 401 and self._access_token:
            raise SignInRequired
        return answer

    async def download(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """A GET whose answer goes to the browser as it is (a CSV export), streamed through the
        gateway's own API route (token check, rate limits, reverse proxy) rather than held whole."""
        query = str(httpx.QueryParams(_without_empty(params) or {})).encode()
        headers = {"host": self._request.headers.get("host", ""), **self._headers({"accept": "text/csv"})}
        scope = {**self._request.scope, "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": query, "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
        return await proxy(Request(scope))

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"accept": "application/json", "x-request-id": context.correlation_id.get() or ""}
        if self._access_token:
            headers["authorization"] = f"Bearer {self._access_token}"
        return {**{k: v for k, v in headers.items() if v}, **(extra or {})}

    def _client_host(self) -> str:
        return self._request.client.host if self._request.client else "unknown"


def _without_empty(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Form fields left blank are not filters: '' would be sent and refused as a bad value."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value not in (None, "")}


def problem_detail(answer: httpx.Response) -> str:
    """What to tell the person about a refused call: the API's problem+json detail."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return _for_people(str(body["detail"]))
    return f"The request failed ({answer.status_code} {answer.reason_phrase}). Try again shortly."


# The permission table's codes ("audit:view") in an API refusal: for developers, not for the page.
_PERMISSION_CODE = re.compile(r"\s*\([a-z_]+:[a-z_]+\)")


def _for_people(detail: str) -> str:
    readable = _PERMISSION_CODE.sub("", detail)
    if readable != detail and "may not" in readable:
        readable = readable.rstrip(".") + ". Ask an Admin of your organization if you need it."
    return readable
