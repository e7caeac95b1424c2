"""Sign-in and sign-out: the portal asks identity (through the public API) for tokens and keeps
them in its session cookies."""

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from gateway.portal.api_client import PortalApi, problem_detail
from gateway.portal.dependencies import PortalDep
from gateway.portal.rendering import redirect, render, safe_next
from gateway.portal.routing import portal_router
from gateway.portal.session import REFRESH_COOKIE, forget, remember, tokens_from

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
async def sign_out(portal: PortalDep) -> Response:
    refresh_token = portal.request.cookies.get(REFRESH_COOKIE)
    if refresh_token:  # ends the session at identity too: the refresh token can no longer renew it
        await portal.api.post("/api/v1/auth/logout", json={"refresh_token": refresh_token})
    forget(portal.request)
    return redirect(portal.request, "/sign-in", "You are signed out.")
