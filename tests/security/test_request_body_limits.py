"""Issue 20, item 3: an unauthenticated client sends a huge body to make a service hold it in memory.
The gateway and every service stop it at the route's limit with a 413 problem, whether the body
announces its length or comes in chunks (or lies about its length); a normal request still works,
and the route that takes files (the entitlements CSV import) takes a body beyond the usual limit."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.middleware import BodyLimits
from tests.system.platform import ADMIN_EMAIL, PASSWORD

pytestmark = pytest.mark.system

LOGIN = "/api/v1/auth/login"
IMPORT = "/api/v1/entitlements/import"


def limits(platform) -> BodyLimits:
    return platform.apps["identity"].state.body_limits


class Sent:
    """A chunked body that counts what the server took from it before answering."""

    def __init__(self, total: int, chunk: int = 64 * 1024):
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"x" * self.chunk


def in_process(app) -> httpx.AsyncClient:
    """A client of one service's app (its middleware), in this process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 4000)),
                             base_url="http://service")


def assert_too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "larger than this route takes" in answer.json()["detail"]


async def test_an_announced_huge_body_is_refused_at_the_gateway_before_it_is_read(platform):
    body = b"{" + b" " * (limits(platform).default + 1) + b"}"
    assert_too_large(await platform.http.post(LOGIN, content=body, headers={"content-type": "application/json"}))
    vendor = await platform.sign_in(ADMIN_EMAIL, PASSWORD)  # a normal sign-in still works
    assert (await vendor.get("/api/v1/me")).status_code == 200


async def test_a_chunked_huge_body_is_cut_off_at_the_gateway(platform):
    body = Sent(total=200 * limits(platform).default)
    try:
        answer = await platform.http.post(LOGIN, content=body, headers={"content-type": "application/json"})
    except httpx.TransportError:
        answer = None  # the gateway answered 413 and closed while the client was still sending
    if answer is not None:
        assert_too_large(answer)
    assert body.sent < body.total / 2, "the gateway read the whole body"


@pytest.mark.parametrize("service, path", [("identity", LOGIN), ("orgs", "/api/v1/integrators"),
                                           ("transfers", "/api/v1/transfers")])
async def test_each_service_stops_a_chunked_body_once_it_passes_the_limit(platform, service, path):
    limit = limits(platform).default
    body = Sent(total=50 * limit)
    async with in_process(platform.apps[service]) as client:
        assert_too_large(await client.post(path, content=body, headers={"content-type": "application/json"}))
    assert body.sent <= limit + 2 * body.chunk, "the service read on after the limit"


async def test_a_body_longer_than_it_announced_is_still_counted(platform):
    limit = limits(platform).default
    body = Sent(total=10 * limit)
    async with in_process(platform.apps["identity"]) as client:
        # httpx sends what the iterator yields; the header says it is small.
        answer = await client.post(LOGIN, content=body, headers={"content-type": "application/json",
                                                                 "content-length": "10"})
    assert_too_large(answer)


async def test_the_csv_import_takes_a_body_beyond_the_usual_limit(platform):
    body = b"x" * (limits(platform).default + 1)
    assert limits(platform).for_request("POST", IMPORT) > len(body)
    answer = await platform.http.post(IMPORT, content=body, headers={"content-type": "text/csv"})
    assert answer.status_code == 401, "past the size check, to the token check"
    async with in_process(platform.apps["entitlements"]) as client:
        assert (await client.post(IMPORT, content=body, headers={"content-type": "text/csv"})).status_code != 413
        too_large = b"x" * (limits(platform).large + 1)
        assert_too_large(await client.post(IMPORT, content=too_large, headers={"content-type": "text/csv"}))
