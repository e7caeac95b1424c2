"""Sign-in and sign-out: the portal asks identity (through the public API) for tokens and keeps
them in its session cookies."""

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from gateway.portal.api_client import PortalApi, SignInRequired, problem_detail
from gateway.portal.rendering import redirect, render, safe_next
from gateway.portal.routing import portal_router
from gateway.portal.session import REFRESH_COOKIE, end_renewals, forget, remember, signed_in, tokens_from

router = portal_router()


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in.html", next=safe_next(next), email="")


@router.post("/sign-in")
async def sign_in(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                  next: Annotated[str, Form()] = "") -> Response:
    answer = await PortalApi(request).post("/api/v1/auth/login", json={"email": email, "password": password})
    if answer.status_code != 200:
        return render(request, "sign_in.html", status_code=answer.status_code, next=safe_next(next), email=email,
                      error=problem_detail(answer), retry_after=answer.headers.get("retry-after"))
    remember(request, tokens_from(answer.json()))
    return redirect(request, safe_next(next))


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if refresh_token:
        try:
            session = await signed_in(request)
        except SignInRequired:
            session = None  # already ended at identity
        # At once here, so no one is handed this session's renewed tokens from the renewal cache
        # (with an older refresh cookie), and at identity, which revokes every rotation of it.
        end_renewals(request, refresh_token)
        if session is not None:
            await PortalApi(request, session.access_token).post("/api/v1/auth/logout",
                                                                json={"refresh_token": refresh_token})
    forget(request)
    return redirect(request, "/sign-in", "You are signed out.")
