"""Members of the caller's organization: the active and invited lists (role filter, search, sort),
the invite form (the roles the tier has), resend and delete an invite, a member's detail panel
with their activity, change of role and removal. Managing controls show only to roles that may
manage members; the API enforces it either way."""

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import Form, Query
from starlette.responses import RedirectResponse, Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.recent import activity_of
from gateway.portal.rendering import is_htmx
from gateway.portal.routing import portal_router
from shared.auth.permissions import ROLES_BY_TIER, Action, Role

router = portal_router()

PAGE_SIZE = 25
View = Literal["active", "invited"]


def roles_of(portal: Portal) -> list[tuple[str, str]]:
    """The roles the caller's tier has, in the permission table's order, as (value, label)."""
    return [(role.value, role.value.replace("_", " ").capitalize())
            for role in Role if role in ROLES_BY_TIER[portal.caller.tier]]


@router.get("/members")
async def members_page(portal: PortalDep, view: View = "active", role: Annotated[str | None, Query(max_length=32)] = None,
                       q: Annotated[str | None, Query(max_length=254)] = None,
                       sort: Annotated[str, Query(max_length=64)] = "created_at",
                       order: Literal["asc", "desc"] | None = None,
                       cursor: Annotated[str | None, Query(max_length=512)] = None,
                       invite: bool = False) -> Response:
    path = "/api/v1/members" if view == "active" else "/api/v1/invites"
    answer = await portal.api.get(path, params={"role": role, "q": q, "sort": sort, "order": order, "cursor": cursor,
                                                "limit": PAGE_SIZE, "include_total": "true"})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    return portal.render("members/list.html", fragment="members/_list.html", title="Members", view=view,
                         role=role or "", q=q or "", roles=roles_of(portal), items=page["items"],
                         next_cursor=page["next_cursor"], total=page.get("total"), page_size=PAGE_SIZE,
                         open_invite=invite,
                         error=None if answer.status_code == 200 else problem_detail(answer))


def _invite_form(portal: Portal, values: dict[str, str], errors: FormErrors | None = None,
                 status_code: int = 200) -> Response:
    return portal.render("members/invite.html", fragment="members/_invite_form.html", status_code=status_code,
                         title="Invite member", values=values, errors=errors or FormErrors(), roles=roles_of(portal))


@router.get("/members/invite")
async def invite_form(portal: PortalDep) -> Response:
    return _invite_form(portal, {"email": "", "phone": "", "role": Role.VIEWER.value,
                                 "idempotency_key": str(uuid.uuid4())})


@router.post("/members/invite")
async def send_invite(portal: PortalDep, email: Annotated[str, Form(max_length=254)] = "",
                      phone: Annotated[str, Form(max_length=32)] = "", role: Annotated[str, Form(max_length=32)] = "",
                      idempotency_key: Annotated[str, Form(max_length=64)] = "") -> Response:
    values = {"email": email.strip(), "phone": phone.strip(), "role": role,
              "idempotency_key": idempotency_key or str(uuid.uuid4())}
    body = {"email": values["email"], "role": role} | ({"phone": values["phone"]} if values["phone"] else {})
    answer = await portal.api.post("/api/v1/invites", json=body,
                                   headers={"Idempotency-Key": values["idempotency_key"]})
    if answer.status_code != 201:
        return _invite_form(portal, values, form_errors(answer), status_code=answer.status_code)
    return portal.redirect("/members?view=invited", f"Invitation sent to {answer.json()['email']}.")


@router.post("/members/invites/{invite_id}/resend")
async def resend_invite(portal: PortalDep, invite_id: uuid.UUID,
                        email: Annotated[str, Form(max_length=254)] = "") -> Response:
    answer = await portal.api.post(f"/api/v1/invites/{invite_id}/resend")
    if answer.status_code != 200:
        return portal.redirect("/members?view=invited", f"The invitation was not resent: {problem_detail(answer)}")
    return portal.redirect("/members?view=invited", f"Invitation resent to {answer.json()['email']}; it is valid "
                                                   "for another week and the earlier link no longer works.")


@router.get("/members/invites/{invite_id}")
async def invite_panel(portal: PortalDep, invite_id: uuid.UUID,
                       email: Annotated[str, Query(max_length=254)] = "") -> Response:
    """An invitation's detail panel; it is found among the pending ones by its email (the list gave it)."""
    if not is_htmx(portal.request):
        return RedirectResponse("/members?view=invited", status_code=303)
    answer = await portal.api.get("/api/v1/invites", params={"q": email, "limit": 50})
    found = [i for i in answer.json()["items"] if i["id"] == str(invite_id)] if answer.status_code == 200 else []
    error = None if found else (problem_detail(answer) if answer.status_code != 200
                                else "This invitation is no longer pending: accepted, deleted or replaced.")
    return portal.render("members/_invite_panel.html", invite=found[0] if found else None, panel_error=error,
                         manage=portal.can(Action.MANAGE_MEMBERS))


@router.get("/members/invites/{invite_id}/delete")
async def confirm_delete_invite(portal: PortalDep, invite_id: uuid.UUID,
                                email: Annotated[str, Query(max_length=254)] = "") -> Response:
    return _confirmation(portal, "invite", email)


@router.post("/members/invites/{invite_id}/delete")
async def delete_invite(portal: PortalDep, invite_id: uuid.UUID,
                        email: Annotated[str, Form(max_length=254)] = "") -> Response:
    return await _confirmed_delete(portal, "invite", f"/api/v1/invites/{invite_id}", email, "/members?view=invited",
                                   f"The invitation to {email or 'that address'} is deleted.")


Deleted = Literal["invite", "member"]


def _confirmation(portal: Portal, what: Deleted, email: str, error: str | None = None,
                  status_code: int = 200) -> Response:
    """Asks before deleting; the confirming form posts to this same address."""
    return portal.render("members/confirm.html", fragment="members/_confirm.html", status_code=status_code,
                         title="Confirm", what=what, action=portal.request.url.path, email=email, error=error)


async def _confirmed_delete(portal: Portal, what: Deleted, api_path: str, email: str, done_url: str,
                            done: str) -> Response:
    """The confirmed deletion: back to the list with a notice, or the confirmation with the reason."""
    answer = await portal.api.delete(api_path)
    if answer.status_code != 204:
        return _confirmation(portal, what, email, problem_detail(answer), answer.status_code)
    return portal.redirect(done_url, done)


async def _panel(portal: Portal, member_id: uuid.UUID, status_code: int = 200, **extra) -> Response:
    member, activity = await asyncio.gather(portal.api.get(f"/api/v1/members/{member_id}"),
                                            activity_of(portal, member_id))
    values = {"member": member.json() if member.status_code == 200 else None,
              "panel_error": None if member.status_code == 200 else problem_detail(member),
              "activity": activity, "roles": roles_of(portal)}
    return portal.render("members/panel_page.html", fragment="members/_panel.html", status_code=status_code,
                         title="Member", **{**values, **extra})


@router.get("/members/{member_id}")
async def member_panel(portal: PortalDep, member_id: uuid.UUID) -> Response:
    return await _panel(portal, member_id)


@router.post("/members/{member_id}/role")
async def change_role(portal: PortalDep, member_id: uuid.UUID,
                      role: Annotated[str, Form(max_length=32)] = "") -> Response:
    answer = await portal.api.patch(f"/api/v1/members/{member_id}", json={"role": role})
    if answer.status_code != 200:
        return await _panel(portal, member_id, status_code=answer.status_code, role_error=problem_detail(answer))
    member = answer.json()
    notice = f"{member['first_name']} {member['last_name']} is now {role.replace('_', ' ')}."
    if not is_htmx(portal.request):
        return RedirectResponse(f"/members/{member_id}", status_code=303)
    return await _panel(portal, member_id, notice=notice)


@router.get("/members/{member_id}/remove")
async def confirm_remove(portal: PortalDep, member_id: uuid.UUID,
                         email: Annotated[str, Query(max_length=254)] = "") -> Response:
    return _confirmation(portal, "member", email)


@router.post("/members/{member_id}/remove")
async def remove_member(portal: PortalDep, member_id: uuid.UUID,
                        email: Annotated[str, Form(max_length=254)] = "") -> Response:
    return await _confirmed_delete(portal, "member", f"/api/v1/members/{member_id}", email, "/members",
                                   f"{email or 'The member'} no longer has access to the portal.")
