"""The combined OpenAPI document of every service at /api/v1/openapi.json, and interactive docs."""

import asyncio
import time

import httpx
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html

from gateway.domain.openapi import merge_documents
from gateway.domain.routing import API_PREFIX
from shared.logging import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

_CACHE_SECONDS = 30.0


@router.get(f"{API_PREFIX}/openapi.json")
async def combined_openapi(request: Request) -> dict:
    cached = getattr(request.app.state, "openapi_cache", None)
    if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    upstreams = request.app.state.settings.upstream_urls()
    fetched = await asyncio.gather(*(_fetch(request.app.state.http, url) for url in upstreams.values()))
    documents = {service: doc for service, doc in zip(upstreams, fetched, strict=True) if doc is not None}
    missing = [service for service in upstreams if service not in documents]
    merged = merge_documents(documents, missing)
    if not missing:  # an incomplete document is served but not kept
        request.app.state.openapi_cache = (time.monotonic(), merged)
    return merged


@router.get(f"{API_PREFIX}/docs")
async def interactive_docs():
    return get_swagger_ui_html(openapi_url=f"{API_PREFIX}/openapi.json", title="Licensing platform API")


async def _fetch(client: httpx.AsyncClient, base_url: str) -> dict | None:
    try:
        answer = await client.get(f"{base_url.rstrip('/')}/openapi.json", timeout=5)
        answer.raise_for_status()
        return answer.json()
    except (httpx.HTTPError, ValueError) as error:
        log.warning("openapi document unavailable", upstream=base_url, error=repr(error))
        return None
