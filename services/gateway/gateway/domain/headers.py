"""Which HTTP headers a proxy passes on (RFC 9110 section 7.6.1)."""

from collections.abc import Iterable

# Hop-by-hop headers describe one connection, never the message, so they stop at the proxy.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

RawHeaders = list[tuple[bytes, bytes]]


def end_to_end(headers: Iterable[tuple[bytes, bytes]], also_drop: Iterable[bytes] = ()) -> RawHeaders:
    """The headers to pass on: without hop-by-hop ones, those the Connection header names, and
    `also_drop` (lower-case names the proxy sets itself)."""
    headers = [(name.lower(), value) for name, value in headers]
    dropped = set(HOP_BY_HOP) | {name.lower() for name in also_drop}
    for name, value in headers:
        if name == b"connection":
            dropped |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return [(name, value) for name, value in headers if name not in dropped]


def relative_location(headers: RawHeaders, upstream_base: str) -> RawHeaders:
    """Redirects from an upstream name its internal address; the client can only follow a path."""
    base = upstream_base.rstrip("/").encode()
    rewritten = []
    for name, value in headers:
        rest = value[len(base) :]
        if name == b"location" and value.startswith(base) and rest[:1] in (b"", b"/", b"?"):
            value = rest if rest.startswith(b"/") else b"/" + rest
        rewritten.append((name, value))
    return rewritten
