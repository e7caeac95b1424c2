"""The client for the gateway's own calls to the services (dashboard, OpenAPI documents,
readiness): a few requests, read whole. Proxied traffic has its own pool (gateway.proxy)."""

import httpx

from gateway.settings import GatewaySettings


def create_client(settings: GatewaySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_read_timeout, connect=settings.upstream_connect_timeout),
        limits=httpx.Limits(max_connections=64, keepalive_expiry=30),
        follow_redirects=False,
        trust_env=False,  # upstreams are internal: never through an HTTP_PROXY meant for the outside
    )
