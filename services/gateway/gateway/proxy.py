"""The streaming reverse proxy: one pooled HTTP client forwards a request to the service that
owns it and streams the answer back, so a large CSV export never sits whole in the gateway."""

from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from gateway.domain.headers import end_to_end, relative_location
from gateway.settings import GatewaySettings
from shared import context
from shared.logging import get_logger
from shared.problems import problem_response
from shared.tracing import inject_trace_context

log = get_logger(__name__)

# The proxy sets these itself: Host from the upstream URL, the rest for this request; a client's
# own X-Forwarded-* cannot be trusted because the gateway is the public entry.
_SET_ON_REQUESTS = (b"host", b"x-request-id", b"traceparent", b"tracestate", b"x-forwarded-for",
                    b"x-forwarded-host", b"x-forwarded-proto")
# The gateway's server and middleware add these to every answer; passing them on would double them.
_SET_ON_RESPONSES = (b"date", b"server", b"x-request-id")


def create_client(settings: GatewaySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_read_timeout, connect=settings.upstream_connect_timeout),
        limits=httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        ),
        follow_redirects=False,  # a redirect is the client's to follow, through the gateway
        trust_env=False,  # upstreams are internal: never through an HTTP_PROXY meant for the outside
    )


class ReverseProxy:
    def __init__(self, client: httpx.AsyncClient, upstreams: Mapping[str, str]):
        self._client = client
        self._upstreams = dict(upstreams)

    async def forward(self, request: Request, service: str) -> Response:
        base = self._upstreams[service]
        outgoing = self._client.build_request(
            request.method,
            _upstream_url(base, request),
            headers=_request_headers(request),
            content=request.stream() if _has_body(request) else None,
        )
        try:
            upstream = await self._client.send(outgoing, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            log.warning("upstream unreachable", upstream=service, error=repr(error))
            return problem_response(
                503, f"The {service} service is unavailable; try again shortly.", "Service unavailable",
                headers={"Retry-After": "5"}, service=service,
            )
        except httpx.PoolTimeout:
            return problem_response(503, "The gateway is at capacity; try again shortly.", headers={"Retry-After": "1"})
        except httpx.TimeoutException as error:
            log.warning("upstream timed out", upstream=service, error=repr(error))
            return problem_response(504, f"The {service} service did not answer in time.", service=service)
        except httpx.TransportError as error:
            log.warning("upstream answer broken", upstream=service, error=repr(error))
            return problem_response(502, f"The {service} service gave no valid answer.", service=service)
        except ClientDisconnect:
            return problem_response(400, "The request body ended before its announced length.")
        response = StreamingResponse(
            _relay(upstream, service), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
        )
        response.raw_headers = relative_location(end_to_end(upstream.headers.raw, _SET_ON_RESPONSES), base)
        return response


def _upstream_url(base: str, request: Request) -> httpx.URL:
    # The raw path keeps the client's encoding; the routing decision used the same path decoded,
    # exactly as the upstream will decode it.
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"")
    return httpx.URL(base).copy_with(raw_path=raw_path + (b"?" + query if query else b""))


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


def _request_headers(request: Request) -> list[tuple[bytes, bytes]]:
    headers = end_to_end(request.headers.raw, _SET_ON_REQUESTS)
    own = {
        "x-request-id": context.correlation_id.get() or "",
        "x-forwarded-for": request.client.host if request.client else "",
        "x-forwarded-host": request.headers.get("host", ""),
        "x-forwarded-proto": request.url.scheme,
        **inject_trace_context(),
    }
    return headers + [(name.encode(), value.encode("latin-1")) for name, value in own.items() if value]


async def _relay(upstream: httpx.Response, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as error:
        # The status is already sent: breaking the connection is the only way to tell the client
        # that the body is incomplete, rather than ending it as if it were whole.
        log.warning("upstream stream broke off", upstream=service, error=repr(error))
        raise
    finally:
        await upstream.aclose()
