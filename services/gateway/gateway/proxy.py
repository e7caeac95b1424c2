"""The streaming reverse proxy: one pooled HTTP client forwards a request to the service that
owns it and streams the answer back, so a large CSV export never sits whole in the gateway."""

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
from multidict import CIMultiDict
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from yarl import URL

from gateway.domain.headers import RawHeaders, end_to_end, relative_location
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
# Idle upstream connections are dropped well before the services close them (uvicorn runs with
# --timeout-keep-alive 75), so a request never goes out on a connection that is being closed.
UPSTREAM_KEEPALIVE_SECONDS = 30
# A request that cannot have changed anything may go again when a kept-alive connection was gone.
_SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers up to this size are read whole and sent in one piece; larger ones (CSV exports) stream.
WHOLE_ANSWER_MAX_BYTES = 256 * 1024


def create_proxy_session(settings: GatewaySettings) -> aiohttp.ClientSession:
    """aiohttp for the hot path: httpx's pool scans every connection for each request, which
    grows with the number of concurrent clients."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.upstream_max_connections,
                                       keepalive_timeout=UPSTREAM_KEEPALIVE_SECONDS),
        # connect: waiting for a pooled connection and connecting; sock_read: the wait between chunks.
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.upstream_connect_timeout,
                                      connect=settings.upstream_connect_timeout + settings.upstream_pool_timeout,
                                      sock_read=settings.upstream_read_timeout),
        auto_decompress=False,  # bytes pass through as the service sent them
        cookie_jar=aiohttp.DummyCookieJar(),  # one session for every user: never keep anyone's cookies
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        trust_env=False,  # upstreams are internal: never through an HTTP_PROXY meant for the outside
    )


class ReverseProxy:
    def __init__(self, session: aiohttp.ClientSession, upstreams: Mapping[str, str]):
        self._session = session
        self._upstreams = dict(upstreams)

    async def forward(self, request: Request, service: str) -> Response:
        base = self._upstreams[service]
        try:
            upstream = await self._send(request, base)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            log.warning("upstream unreachable", upstream=service, error=repr(error))
            return problem_response(
                503, f"The {service} service is unavailable; try again shortly.", "Service unavailable",
                headers={"Retry-After": "5"}, service=service,
            )
        except (aiohttp.SocketTimeoutError, asyncio.TimeoutError) as error:
            log.warning("upstream timed out", upstream=service, error=repr(error))
            return problem_response(504, f"The {service} service did not answer in time.", service=service)
        except ClientDisconnect:
            return problem_response(400, "The request body ended before its announced length.")
        except aiohttp.ClientError as error:
            log.warning("upstream answer broken", upstream=service, error=repr(error))
            return problem_response(502, f"The {service} service gave no valid answer.", service=service)
        headers = relative_location(end_to_end(upstream.raw_headers, _SET_ON_RESPONSES), base)
        if upstream.content_length is not None and upstream.content_length <= WHOLE_ANSWER_MAX_BYTES:
            return await _whole(upstream, service, headers)
        # The release is a coroutine function so Starlette runs it on the loop: a plain function
        # would go through the thread pool, a thread hop for every streamed answer.
        response = StreamingResponse(
            _relay(upstream, service), status_code=upstream.status, background=BackgroundTask(_release, upstream)
        )
        response.raw_headers = headers
        return response

    async def _send(self, request: Request, base: str) -> aiohttp.ClientResponse:
        url, headers = _upstream_url(base, request), _request_headers(request)
        body = request.stream() if _has_body(request) else None
        try:
            return await self._session.request(request.method, url, headers=headers, data=body,
                                               allow_redirects=False)
        except aiohttp.ServerDisconnectedError:
            if request.method not in _SAFE_TO_REPEAT:
                raise
            return await self._session.request(request.method, url, headers=headers, allow_redirects=False)


def _upstream_url(base: str, request: Request) -> URL:
    # The raw path keeps the client's encoding; the routing decision used the same path decoded,
    # exactly as the upstream will decode it.
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"")
    target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
    return URL(base.rstrip("/") + target, encoded=True)


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


def _request_headers(request: Request) -> CIMultiDict[str]:
    headers = end_to_end(request.headers.raw, _SET_ON_REQUESTS)
    own = {
        "x-request-id": context.correlation_id.get() or "",
        "x-forwarded-for": request.client.host if request.client else "",
        "x-forwarded-host": request.headers.get("host", ""),
        "x-forwarded-proto": request.url.scheme,
        **inject_trace_context(),
    }
    return CIMultiDict([(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
                       + [(name, value) for name, value in own.items() if value])


async def _whole(upstream: aiohttp.ClientResponse, service: str, headers: RawHeaders) -> Response:
    """A small answer of known length, read at once and sent as one body: most API answers are a
    few hundred bytes, for which streaming cost more than the bytes."""
    try:
        body = await upstream.read()
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        log.warning("upstream answer broke off", upstream=service, error=repr(error))
        return problem_response(502, f"The {service} service gave no valid answer.", service=service)
    finally:
        upstream.release()
    response = Response(status_code=upstream.status)
    response.body = body
    response.raw_headers = headers  # the upstream's own, Content-Length included
    return response


async def _release(upstream: aiohttp.ClientResponse) -> None:
    upstream.release()


async def _relay(upstream: aiohttp.ClientResponse, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        # The status is already sent: breaking the connection is the only way to tell the client
        # that the body is incomplete, rather than ending it as if it were whole.
        log.warning("upstream stream broke off", upstream=service, error=repr(error))
        raise
    finally:
        upstream.release()
