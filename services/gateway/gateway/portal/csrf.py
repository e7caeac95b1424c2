"""Cross-site request forgery: the session cookies are SameSite=Strict, and on top of that every
state-changing portal request must come from a page of this same site, as its Origin (or, when a
browser sends none, its Referer) shows. A request that shows neither is refused."""

from urllib.parse import urlsplit

from starlette.requests import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_same_site_request(request: Request) -> bool:
    if request.method in SAFE_METHODS:
        return True
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == request.headers.get("host", "").lower()
