"""Every portal router is made here: its routes stay out of the API's OpenAPI document, refuse
cross-site POSTs, send a visitor without a session to sign-in, and store renewed tokens."""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from gateway.portal.api_client import SignInRequired
from gateway.portal.csrf import is_same_site_request
from gateway.portal.rendering import is_htmx, redirect, render
from gateway.portal.session import ACCESS_COOKIE, REFRESH_COOKIE, apply_session_cookies, forget
from shared.auth.tokens import SigningKeysUnavailable


# No inline script runs (every behaviour is in /static), no other site may frame a page
# (clickjacking), and a browser neither guesses content types nor tells other sites the page's
# address. Styles may be inline: htmx and the templates set style attributes.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
                               " img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';"
                               " frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class PortalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            if not is_same_site_request(request):
                return render(request, "error.html", status_code=403, title="Request refused",
                              message="This form was not sent from a page of this portal. "
                                      "Reload the page and try again.")
            try:
                response = await handler(request)
            except SignInRequired:
                forget(request)
                response = _to_sign_in(request)
            except SigningKeysUnavailable:
                response = render(request, "error.html", status_code=503, title="Sign-in unavailable",
                                  message="Your sign-in cannot be checked right now: the identity service is "
                                          "unreachable. Try again in a few seconds.")
                response.headers["Retry-After"] = "5"
            apply_session_cookies(request, response)
            response.headers.update(SECURITY_HEADERS)
            return response

        return portal_handler


def portal_router() -> APIRouter:
    return APIRouter(route_class=PortalRoute, include_in_schema=False)


def _to_sign_in(request: Request) -> Response:
    had_session = ACCESS_COOKIE in request.cookies or REFRESH_COOKIE in request.cookies
    notice = "Your session has ended. Sign in to continue." if had_session else None
    return redirect(request, f"/sign-in?next={quote(_page_to_return_to(request))}", notice)


def _page_to_return_to(request: Request) -> str:
    if is_htmx(request):  # a part of a page asked: come back to the whole page
        shown = urlsplit(request.headers.get("hx-current-url", ""))
        return shown.path + (f"?{shown.query}" if shown.query else "") or "/dashboard"
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/dashboard"
