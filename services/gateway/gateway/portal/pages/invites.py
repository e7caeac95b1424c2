"""Accepting an invite: the link in the invitation email opens this page; the person chooses
their name and password, and is signed in."""

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from gateway.portal.api_client import PortalApi, problem_detail
from gateway.portal.rendering import redirect, render
from gateway.portal.routing import portal_router
from gateway.portal.session import remember, tokens_from

router = portal_router()
Field = Annotated[str, Form()]
# Identity's answers about a link that can no longer be used: unknown, used, expired, or replaced.
DEAD_LINK = frozenset({404, 409, 410})


@router.get("/invites/accept")
@router.get("/accept-invite")  # the address in the invitation emails (notify's accept_invite_url)
async def accept_page(request: Request, token: str = "") -> Response:
    """Says which company, role and email the link is for, or, before any form is filled in, that
    it can no longer be used."""
    if not token:
        return render(request, "invite_accept.html", title="Accept your invitation", values={"token": token},
                      dead="This link has no invitation in it. Open the link from the email again.")
    answer = await PortalApi(request).get("/api/v1/invites/accept", params={"token": token})
    if answer.status_code == 200:
        return render(request, "invite_accept.html", title="Accept your invitation", values={"token": token},
                      invite=answer.json())
    if answer.status_code in DEAD_LINK:
        return render(request, "invite_accept.html", status_code=answer.status_code, title="Invitation not valid",
                      values={"token": token}, dead=problem_detail(answer))
    # Identity could not say (busy, or too many attempts from here): the form, with the reason if any.
    return render(request, "invite_accept.html", title="Accept your invitation", values={"token": token},
                  error=problem_detail(answer) if answer.status_code == 429 else None)


@router.post("/invites/accept")
async def accept(request: Request, token: Field = "", first_name: Field = "", last_name: Field = "",
                 password: Field = "", password_again: Field = "") -> Response:
    values = {"token": token, "first_name": first_name, "last_name": last_name}
    if password != password_again:
        return render(request, "invite_accept.html", status_code=422, values=values,
                      error="The two passwords differ: type the same password twice.")
    api = PortalApi(request)
    answer = await api.post("/api/v1/invites/accept", json={**values, "password": password})
    if answer.status_code not in (200, 201):
        return render(request, "invite_accept.html", status_code=answer.status_code, values=values,
                      error=problem_detail(answer))
    signed_in = await api.post("/api/v1/auth/login", json={"email": answer.json()["email"], "password": password})
    if signed_in.status_code != 200:
        return redirect(request, "/sign-in", "Your account is ready: sign in with your new password.")
    remember(request, tokens_from(signed_in.json()))
    return redirect(request, "/dashboard", f"Welcome, {first_name}: your account is ready.")
