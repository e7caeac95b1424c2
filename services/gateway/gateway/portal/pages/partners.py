"""Integrators (a distributor's partners) and customers (an integrator's end customers; a
distributor may have its own too): active and archived lists, the create form with its
representatives, the right-side detail panel (company, representatives, licenses it holds and sent to it,
activity), archive and unarchive. Both kinds are the same pages over /api/v1/integrators and
/api/v1/customers."""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Form, Query
from starlette.responses import RedirectResponse, Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.partner_draft import PartnerDraft
from gateway.portal.recent import activity_of, recent
from gateway.portal.rendering import is_htmx
from gateway.portal.routing import portal_router
from shared.auth.permissions import Action, Tier

router = portal_router()

PAGE_SIZE = 25
REPRESENTATIVE_FIELDS = ("email", "first_name", "last_name", "phone", "note")
COMPANY_FIELDS = ("name", "email_domain", "address", "country", "phone", "contact_name", "contact_email", "tax_id")


@dataclass(frozen=True)
class Kind:
    slug: str  # the page path and the API collection: integrators, customers
    singular: str
    title: str

    @property
    def api(self) -> str:
        return f"/api/v1/{self.slug}"


INTEGRATORS = Kind("integrators", "integrator", "Integrators")
CUSTOMERS = Kind("customers", "customer", "Customers")


def kinds_for(tier: Tier) -> list[Kind]:
    """The tabs a tier sees: a distributor has integrators and its own customers."""
    return {Tier.DISTRIBUTOR: [INTEGRATORS, CUSTOMERS], Tier.INTEGRATOR: [CUSTOMERS]}.get(tier, [])


async def _list_values(portal: Portal, kind: Kind, status: str, country: str | None, q: str | None, sort: str,
                       order: str | None, cursor: str | None) -> dict:
    answer = await portal.api.get(kind.api, params={"status": status, "country": country, "q": q, "sort": sort,
                                                    "order": order, "cursor": cursor, "limit": PAGE_SIZE,
                                                    "include_total": "true"})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    return {"kind": kind, "kinds": kinds_for(portal.caller.tier), "status": status, "country": country or "",
            "q": q or "", "items": page["items"], "next_cursor": page["next_cursor"], "total": page.get("total"),
            "page_size": PAGE_SIZE,
            "error": None if answer.status_code == 200 else problem_detail(answer), "title": kind.title}


async def _panel_values(portal: Portal, kind: Kind, org_id: uuid.UUID) -> dict:
    """The org with its representatives, the licenses it holds now, the transfers we sent it and
    its activity, read at once."""
    detail, holdings, transactions, activity = await asyncio.gather(
        portal.api.get(f"{kind.api}/{org_id}"),
        recent(portal, Action.VIEW_LICENSES, "/api/v1/licenses/products", {"org_id": str(org_id)}),
        recent(portal, Action.VIEW_TRANSACTIONS, "/api/v1/transactions", {"counterparty_id": str(org_id)}),
        activity_of(portal, org_id),
    )
    if detail.status_code != 200:
        return {"kind": kind, "org": None, "panel_error": problem_detail(detail)}
    return {"kind": kind, "org": detail.json(), "holdings": holdings, "transactions": transactions,
            "activity": activity}


async def _panel(portal: Portal, kind: Kind, org_id: uuid.UUID, status_code: int = 200, **extra) -> Response:
    """The detail panel for htmx; a page of its own for a plain form that was refused."""
    values = await _panel_values(portal, kind, org_id)
    return portal.render("partners/panel_page.html", fragment="partners/_panel.html", status_code=status_code,
                         title=kind.title, **{**values, **extra})


def _after_change(portal: Portal, kind: Kind, org_id: uuid.UUID, notice: str) -> Response | None:
    """A plain form goes back to the page (post/redirect/get); htmx gets the fresh panel instead."""
    if is_htmx(portal.request):
        return None
    return portal.redirect(f"/{kind.slug}?open={org_id}", notice)


def _create_form(portal: Portal, kind: Kind, draft: PartnerDraft, idempotency_key: str,
                 errors: FormErrors | None = None, status_code: int = 200, **extra) -> Response:
    return portal.render("partners/create.html", fragment="partners/_create_form.html", status_code=status_code,
                         kind=kind, draft=draft, errors=errors or FormErrors(), idempotency_key=idempotency_key,
                         title=f"New {kind.singular}", **extra)


def _add_routes(kind: Kind) -> None:
    base = f"/{kind.slug}"

    @router.get(base, name=f"{kind.slug}_list")
    async def list_page(portal: PortalDep, status: Literal["active", "archived"] | None = None,
                        country: Annotated[str | None, Query(max_length=2)] = None,
                        q: Annotated[str | None, Query(max_length=200)] = None,
                        sort: Annotated[str, Query(max_length=64)] = "name", order: Literal["asc", "desc"] | None = None,
                        cursor: Annotated[str | None, Query(max_length=512)] = None,
                        create: bool = False, open: uuid.UUID | None = None) -> Response:
        """`open`: the detail panel of that org is open too (its list is the one it is in)."""
        panel = await _panel_values(portal, kind, open) if open and not is_htmx(portal.request) else {}
        status = status or (panel["org"]["status"] if panel.get("org") else "active")
        values = await _list_values(portal, kind, status, country, q, sort, order, cursor)
        return portal.render("partners/list.html", fragment="partners/_list.html", open_create=create,
                             **{**values, **panel})

    @router.get(f"{base}/new", name=f"{kind.slug}_new")
    async def new_form(portal: PortalDep) -> Response:
        return _create_form(portal, kind, PartnerDraft(), str(uuid.uuid4()))

    @router.post(f"{base}/new", name=f"{kind.slug}_create")
    async def create(portal: PortalDep) -> Response:
        form = await portal.request.form()
        draft = PartnerDraft.from_form(form)
        key = str(form.get("idempotency_key") or uuid.uuid4())
        action = str(form.get("action", "create"))
        if action == "add":
            draft.add_representative()
            return _create_form(portal, kind, draft, key, focus_row=len(draft.representatives) - 1)
        if action.startswith("remove-") and action.removeprefix("remove-").isdigit():
            draft.remove_representative(int(action.removeprefix("remove-")))
            return _create_form(portal, kind, draft, key)
        answer = await portal.api.post(kind.api, json=draft.api_body(), headers={"Idempotency-Key": key})
        if answer.status_code != 201:
            return _create_form(portal, kind, draft, key, form_errors(answer), status_code=answer.status_code)
        created = answer.json()
        return portal.redirect(f"{base}?open={created['id']}", f"{kind.singular.capitalize()} {created['name']} created.")

    @router.get(f"{base}/{{org_id}}", name=f"{kind.slug}_detail")
    async def detail(portal: PortalDep, org_id: uuid.UUID) -> Response:
        if not is_htmx(portal.request):
            return RedirectResponse(f"{base}?open={org_id}", status_code=303)
        return await _panel(portal, kind, org_id)

    @router.get(f"{base}/{{org_id}}/edit", name=f"{kind.slug}_edit_form")
    async def edit_form(portal: PortalDep, org_id: uuid.UUID) -> Response:
        return await _panel(portal, kind, org_id, editing_company=True)

    @router.post(f"{base}/{{org_id}}/edit", name=f"{kind.slug}_edit")
    async def edit(portal: PortalDep, org_id: uuid.UUID) -> Response:
        """The company fields through the API's PATCH; a cleared optional field is removed (null)."""
        form = await portal.request.form()
        values = {name: str(form.get(name, "")).strip() for name in COMPANY_FIELDS}
        body = {name: (value or None) for name, value in values.items() if name != "name"} | {"name": values["name"]}
        answer = await portal.api.patch(f"{kind.api}/{org_id}", json=body)
        if answer.status_code != 200:
            return await _panel(portal, kind, org_id, status_code=answer.status_code, editing_company=True,
                                company_values=values, company_errors=form_errors(answer))
        notice = f"{values['name']} saved."
        return _after_change(portal, kind, org_id, notice) or await _panel(portal, kind, org_id, notice=notice)

    for change in ("archive", "unarchive"):
        _add_status_routes(kind, change)

    @router.post(f"{base}/{{org_id}}/representatives", name=f"{kind.slug}_add_representative")
    async def add_representative(portal: PortalDep, org_id: uuid.UUID) -> Response:
        form = await portal.request.form()
        values = {name: str(form.get(name, "")).strip() for name in REPRESENTATIVE_FIELDS}
        answer = await portal.api.post(f"{kind.api}/{org_id}/representatives",
                                       json={k: v for k, v in values.items() if v or k == "email"})
        if answer.status_code != 201:
            return await _panel(portal, kind, org_id, status_code=answer.status_code, new_rep=values,
                                new_rep_errors=form_errors(answer))
        notice = f"Representative {values['email']} added."
        return _after_change(portal, kind, org_id, notice) or await _panel(portal, kind, org_id, notice=notice)

    @router.post(f"{base}/{{org_id}}/representatives/{{rep_id}}", name=f"{kind.slug}_edit_representative")
    async def edit_representative(portal: PortalDep, org_id: uuid.UUID, rep_id: uuid.UUID) -> Response:
        form = await portal.request.form()
        values = {name: str(form.get(name, "")).strip() for name in REPRESENTATIVE_FIELDS}
        # A cleared optional field is removed (null); the email is required and always sent.
        body = {k: (v or None) for k, v in values.items() if k != "email"} | {"email": values["email"]}
        answer = await portal.api.patch(f"{kind.api}/{org_id}/representatives/{rep_id}", json=body)
        if answer.status_code != 200:
            return await _panel(portal, kind, org_id, status_code=answer.status_code, editing=str(rep_id),
                                edit_values=values, edit_errors=form_errors(answer))
        notice = f"Representative {values['email']} saved."
        return _after_change(portal, kind, org_id, notice) or await _panel(portal, kind, org_id, notice=notice)

    @router.post(f"{base}/{{org_id}}/representatives/{{rep_id}}/{{rep_change}}",
                 name=f"{kind.slug}_change_representative")
    async def change_representative(portal: PortalDep, org_id: uuid.UUID, rep_id: uuid.UUID,
                                    rep_change: Literal["make-default", "remove"],
                                    email: Annotated[str, Form(max_length=254)] = "") -> Response:
        path = f"{kind.api}/{org_id}/representatives/{rep_id}"
        if rep_change == "remove":
            answer, notice = await portal.api.delete(path), f"Representative {email} removed."
        else:
            answer, notice = await portal.api.post(f"{path}/make-default"), f"{email} is now the default representative."
        if answer.status_code not in (200, 204):
            return await _panel(portal, kind, org_id, status_code=answer.status_code,
                                panel_error=problem_detail(answer))
        return _after_change(portal, kind, org_id, notice) or await _panel(portal, kind, org_id, notice=notice)


def _add_status_routes(kind: Kind, change: str) -> None:
    """Archive or unarchive: a confirmation first, then the change."""
    path = f"/{kind.slug}/{{org_id}}/{change}"

    @router.get(path, name=f"{kind.slug}_confirm_{change}")
    async def confirm(portal: PortalDep, org_id: uuid.UUID) -> Response:
        answer = await portal.api.get(f"{kind.api}/{org_id}")
        org = answer.json() if answer.status_code == 200 else None
        return _confirmation(portal, kind, change, org, None if org else problem_detail(answer))

    @router.post(path, name=f"{kind.slug}_{change}")
    async def change_status(portal: PortalDep, org_id: uuid.UUID) -> Response:
        answer = await portal.api.post(f"{kind.api}/{org_id}/{change}")
        if answer.status_code != 200:
            current = await portal.api.get(f"{kind.api}/{org_id}")
            return _confirmation(portal, kind, change, current.json() if current.status_code == 200 else None,
                                 problem_detail(answer), answer.status_code)
        status = "archived" if change == "archive" else "active"
        return portal.redirect(f"/{kind.slug}?status={status}", f"{answer.json()['name']} {change}d.")


def _confirmation(portal: Portal, kind: Kind, change: str, org: dict | None, error: str | None,
                  status_code: int = 200) -> Response:
    return portal.render("partners/confirm.html", fragment="partners/_confirm.html", status_code=status_code,
                         kind=kind, org=org, change=change, error=error, title=change.capitalize())


for _kind in (INTEGRATORS, CUSTOMERS):
    _add_routes(_kind)
