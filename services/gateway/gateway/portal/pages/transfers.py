"""The transfer dialog: overview of the line, split (choose a quantity) or all, destination among
the caller's active child orgs (or create a new one), representative with notify, CC emails, a
confirmation step, then the request's status from pending to completed or rejected."""

import re
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Form
from pydantic import BaseModel
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.navigation import partner_word
from gateway.portal.routing import portal_router

router = portal_router()

# What an address needs before the API is asked (it checks the same and more): one @, a dot after it.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_CC_EMAILS = 10
MAX_NOTE_LENGTH = 2000
# Destinations per page of the dialog's list; the search box narrows it, the pager walks it.
DESTINATIONS_PAGE = 25


class TransferForm(BaseModel):
    """The dialog's fields, carried from step to step (text as typed, so a refused form keeps it)."""

    entitlement_id: str
    product_id: str
    split: str = ""
    quantity: str = ""
    to_org_id: str = ""
    to_q: str = ""  # the destination search as typed
    representative_id: str = ""
    notify: str = ""
    cc_emails: str = ""
    note: str = ""
    idempotency_key: str = ""


FilledIn = Annotated[TransferForm, Form()]


@router.get("/transfers/new")
async def new_transfer(portal: PortalDep, entitlement_id: str, product_id: str) -> Response:
    return await _form(portal, {"entitlement_id": entitlement_id, "product_id": product_id, "notify": "on"})


@router.get("/transfers/representatives")
async def representatives(portal: PortalDep, to_org_id: str = "") -> Response:
    return portal.render("transfers/_representatives.html", values={"notify": "on"},
                         representatives=await _representatives(portal, to_org_id))


@router.get("/transfers/destinations")
async def destinations(portal: PortalDep, to_q: str = "", cursor: str = "", to_org_id: str = "") -> Response:
    """The destination list, one page of the caller's partners matching the search; the chosen one
    stays chosen even when the page does not hold it."""
    return portal.render("transfers/_destinations.html", values={"to_org_id": to_org_id, "to_q": to_q},
                         **await _destinations(portal, to_q, cursor, to_org_id))


@router.post("/transfers/review")
async def review(portal: PortalDep, form: FilledIn) -> Response:
    values = form.model_dump()
    context = await _context(portal, values)
    errors = _invalid(values, context["line"], partner_word(portal.caller))
    if errors:
        return portal.render("transfers/_form.html", status_code=422, **{**context, "errors": errors})
    values["idempotency_key"] = str(uuid.uuid4())  # one per confirmation: a double click transfers once
    return portal.render("transfers/_confirm.html", **context)


@router.post("/transfers/edit")
async def edit(portal: PortalDep, form: FilledIn) -> Response:
    """Back from the confirmation to the form, as it was filled in."""
    return await _form(portal, form.model_dump())


@router.post("/transfers")
async def transfer(portal: PortalDep, form: FilledIn) -> Response:
    body = {"entitlement_id": form.entitlement_id, "product_id": form.product_id, "to_org_id": form.to_org_id,
            "quantity": int(form.quantity) if form.split and form.quantity.strip().isdigit() else None,
            "notify_representative": bool(form.notify), "representative_id": form.representative_id or None,
            # Declined notification: nobody is mailed, not the CCs either.
            "cc_emails": _emails(form.cc_emails) if form.notify else [],
            "note": form.note.strip() or None}
    headers = {"Idempotency-Key": form.idempotency_key} if form.idempotency_key else None
    answer = await portal.api.post("/api/v1/transfers", json=body, headers=headers)
    if answer.status_code != 202:
        context = await _context(portal, form.model_dump())
        return portal.render("transfers/_form.html", status_code=answer.status_code,
                             **{**context, "errors": _by_form_field(form_errors(answer))})
    return await _status(portal, answer.json()["id"])


@router.get("/transfers/{transfer_id}/status")
async def status(portal: PortalDep, transfer_id: str) -> Response:
    return await _status(portal, transfer_id)


async def _status(portal: Portal, transfer_id: str) -> Response:
    answer = await portal.api.get(f"/api/v1/transfers/{quote(transfer_id, safe='')}")
    if answer.status_code != 200:
        return portal.render("transfers/_status.html", transfer={"id": transfer_id, "status": "pending"},
                             error=form_errors(answer).form)
    return portal.render("transfers/_status.html", transfer=answer.json())


async def _form(portal: Portal, values: dict) -> Response:
    return portal.render("transfers/_form.html", **await _context(portal, values))


async def _context(portal: Portal, values: dict) -> dict:
    """What the dialog shows besides the typed values: the line, destinations, representatives."""
    line, errors = None, FormErrors()
    answer = await portal.api.get(f"/api/v1/entitlements/{quote(values['entitlement_id'], safe='')}")
    if answer.status_code == 200:
        entitlement = answer.json()
        line = next((dict(l, entitlement=entitlement) for l in entitlement["lines"]
                     if l["product_id"] == values["product_id"]), None)
    if line is None:
        errors.form = form_errors(answer).form if answer.status_code != 200 else "This entitlement has no such product."
    to_org_id = values.get("to_org_id", "")
    return {"values": values, "line": line, "errors": errors,
            **await _destinations(portal, values.get("to_q", ""), "", to_org_id),
            "representatives": await _representatives(portal, to_org_id)}


async def _destinations(portal: Portal, search: str, cursor: str, chosen_id: str) -> dict:
    """A page of destinations by name (`search` narrows it, `cursor` moves on), with the chosen
    one first when the page lacks it, the count in all and the next page's cursor."""
    params = {"limit": DESTINATIONS_PAGE, "sort": "name", "include_total": "true"}
    params |= ({"q": search.strip()} if search.strip() else {}) | ({"cursor": cursor} if cursor else {})
    answer = await portal.api.get(f"/api/v1/{partner_word(portal.caller)}s", params=params)
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None, "total": 0}
    items = page["items"]
    if chosen_id and all(d["id"] != chosen_id for d in items):
        chosen = await _partner(portal, chosen_id)
        items = [chosen, *items] if chosen else items
    return {"destinations": items, "destinations_total": page.get("total"), "next_cursor": page.get("next_cursor"),
            "paged": bool(cursor), "destinations_error": None if answer.status_code == 200 else problem_detail(answer)}


async def _partner(portal: Portal, org_id: str) -> dict | None:
    if not org_id:
        return None
    answer = await portal.api.get(f"/api/v1/{partner_word(portal.caller)}s/{quote(org_id, safe='')}")
    return answer.json() if answer.status_code == 200 else None


async def _representatives(portal: Portal, org_id: str) -> list[dict]:
    partner = await _partner(portal, org_id)
    return partner.get("representatives", []) if partner else []


def _invalid(values: dict, line: dict | None, destination_noun: str) -> FormErrors:
    """What to correct before the confirmation step, next to its field; the API checks all of it again."""
    errors = FormErrors()
    if line is None:
        errors.form = "This license line is not yours to transfer."
        return errors
    if not values["to_org_id"]:
        errors.fields["to_org_id"] = f"Choose the {destination_noun} to transfer to."
    if values["split"]:
        quantity = values["quantity"].strip()
        if not quantity.isdigit() or not 1 <= int(quantity) <= line["available"]:
            errors.fields["quantity"] = f"Enter a quantity from 1 to {line['available']} (the licenses available)."
    elif line["available"] < 1:
        errors.form = "No licenses of this line are available."
    if values["notify"]:
        emails = _emails(values["cc_emails"])
        not_addresses = [email for email in emails if not _EMAIL.fullmatch(email)]
        if not_addresses:
            errors.fields["cc_emails"] = f"Not an email address: {', '.join(not_addresses)}."
        elif len(emails) > MAX_CC_EMAILS:
            errors.fields["cc_emails"] = f"At most {MAX_CC_EMAILS} CC addresses."
    if len(values["note"]) > MAX_NOTE_LENGTH:
        errors.fields["note"] = f"At most {MAX_NOTE_LENGTH} characters."
    if errors.fields and not errors.form:
        errors.form = "Some fields need correcting: see the messages below them."
    return errors


def _by_form_field(errors: FormErrors) -> FormErrors:
    """The API locates a message by its body path (cc_emails.2); the form has one field per name."""
    fields: dict[str, str] = {}
    for path, message in errors.fields.items():
        fields.setdefault(path.split(".")[0], message)
    return FormErrors(fields=fields, form=errors.form)


def _emails(text: str) -> list[str]:
    return [e for e in re.split(r"[\s,;]+", text) if e]
