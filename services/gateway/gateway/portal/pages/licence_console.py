"""The licence console (document 5). A reseller's account manager: its subscription licences
(customer filter, "expiring soon" and "expired" toggles, keyword search, sort, pages), Add licence
(the claim code shown once), pause / resume / delete with a confirmation, a new claim code, and
Send invoices for the ticked licences after a confirmation that shows their total. Its price list
(Plans). The customer: its licences, Add licence by claim code, its invoices and their PDFs."""

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.pages.listing import passed_on
from gateway.portal.routing import portal_router
from gateway.portal.form_values import number_or_text
from shared.auth.permissions import Action, Tier

router = portal_router()

PAGE_SIZE = 25
FILTERS = ("customer_id", "expiring_soon", "expired", "q")
LISTING = (*FILTERS, "sort", "order", "cursor")
LICENCE_FIELDS = ("plan_id", "name", "note", "quantity", "line", "customer_org_id")
PLAN_FIELDS = ("name", "interval", "interval_months", "unit_price", "currency")


async def _items(portal: Portal, path: str, **params) -> list[dict]:
    answer = await portal.api.get(path, params={"limit": 200, **params})
    return answer.json()["items"] if answer.status_code == 200 else []


@router.get("/licences")
async def licences_page(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/subscriptions", params={**passed_on(request, LISTING), "limit": PAGE_SIZE})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    customers = [] if portal.caller.tier == Tier.CUSTOMER else await _items(portal, "/api/v1/customers")
    return portal.render("licence_console/console.html", title="Licences", items=page["items"],
                         next_cursor=page["next_cursor"], filters=passed_on(request, FILTERS), customers=customers,
                         error=None if answer.status_code == 200 else problem_detail(answer),
                         is_customer=portal.caller.tier == Tier.CUSTOMER)


async def _licence_choices(portal: Portal) -> dict:
    plans = await _items(portal, "/api/v1/plans", enabled="true")
    products = await _items(portal, "/api/v1/licenses/products")
    lines = [(f"{e['entitlement_id']}|{p['product_id']}", f"{p['name']} · entitlement {e['entitlement_id']} · "
                                                          f"{e['available']} available")
             for p in products for e in p["entitlements"] if e["available"] > 0]
    customers = await _items(portal, "/api/v1/customers")
    return {"plans": [(p["id"], f"{p['name']} · {p['unit_price']} {p['currency']} {p['interval']}") for p in plans],
            "lines": lines, "customers": [(c["id"], c["name"]) for c in customers]}


async def _licence_form(portal: Portal, values: dict, errors: FormErrors | None = None, status_code: int = 200):
    return portal.render("licence_console/new.html", status_code=status_code, title="Add licence", values=values,
                         errors=errors or FormErrors(), **await _licence_choices(portal))


@router.get("/licences/new")
async def new_licence(portal: PortalDep) -> Response:
    return await _licence_form(portal, dict.fromkeys(LICENCE_FIELDS, "") | {"quantity": "1",
                                                                         "idempotency_key": str(uuid.uuid4())})


@router.post("/licences/new")
async def create_licence(portal: PortalDep, plan_id: Annotated[str, Form(max_length=64)] = "",
                         name: Annotated[str, Form(max_length=200)] = "",
                         note: Annotated[str, Form(max_length=2000)] = "",
                         quantity: Annotated[str, Form(max_length=20)] = "",
                         line: Annotated[str, Form(max_length=200)] = "",
                         customer_org_id: Annotated[str, Form(max_length=64)] = "",
                         idempotency_key: Annotated[str, Form(max_length=64)] = "") -> Response:
    values = {"plan_id": plan_id, "name": name.strip(), "note": note.strip(), "quantity": quantity.strip(),
              "line": line, "customer_org_id": customer_org_id, "idempotency_key": idempotency_key or str(uuid.uuid4())}
    entitlement_id, _, product_id = line.partition("|")
    body = {"plan_id": plan_id, "name": values["name"], "quantity": number_or_text(values["quantity"]),
            "entitlement_id": entitlement_id, "product_id": product_id,
            **({"note": values["note"]} if values["note"] else {}),
            **({"customer_org_id": customer_org_id} if customer_org_id else {})}
    answer = await portal.api.post("/api/v1/subscriptions", json=body,
                                   headers={"Idempotency-Key": values["idempotency_key"]})
    if answer.status_code != 202:
        errors = form_errors(answer)
        for key in ("entitlement_id", "product_id"):
            if key in errors.fields:
                errors.fields.setdefault("line", errors.fields.pop(key))
        return await _licence_form(portal, values, errors, answer.status_code)
    created = answer.json()
    told = (f" Its claim code is {created['claim_code']}: give it to your customer to add the licence"
            " (it is shown only now)." if created.get("claim_code") else "")
    return portal.redirect("/licences", f"Licence {created['name']} added ({created['quantity']}).{told}")


_ACTIONS = {"pause": "paused", "resume": "resumed", "claim-code": "given a new claim code"}


@router.post("/licences/{subscription_id}/{action}")
async def act_on_licence(portal: PortalDep, subscription_id: uuid.UUID, action: str) -> Response:
    """Pause, resume, a new claim code, or delete (the row's buttons, after their confirmation)."""
    if action == "delete":
        answer = await portal.api.delete(f"/api/v1/subscriptions/{subscription_id}")
        done = "Licence deleted: its quantity goes back to your holding."
    elif action in _ACTIONS:
        answer = await portal.api.post(f"/api/v1/subscriptions/{subscription_id}/{action}")
        licence = answer.json() if answer.status_code == 200 else {}
        done = f"Licence {licence.get('name')} {_ACTIONS[action]}."
        if action == "claim-code" and licence:
            done += f" Its claim code is {licence['claim_code']} (shown only now)."
    else:
        return portal.redirect("/licences", "Unknown action.")
    if answer.status_code not in (200, 204):
        return portal.redirect("/licences", f"Not done: {problem_detail(answer)}")
    return portal.redirect("/licences", done)


@router.post("/licences/invoices")
async def send_invoices(portal: PortalDep, request: Request) -> Response:
    """First the confirmation with the running total of the ticked licences; then, confirmed, the send."""
    form = await request.form()
    ids = [value for value in form.getlist("subscription_id") if isinstance(value, str)]
    if not form.get("confirmed"):
        chosen = [await portal.api.get(f"/api/v1/subscriptions/{i}") for i in ids[:21]]
        licences = [answer.json() for answer in chosen if answer.status_code == 200]
        totals: dict[str, Decimal] = {}
        for licence in licences:
            totals[licence["currency"]] = totals.get(licence["currency"], Decimal(0)) + Decimal(licence["amount"])
        return portal.render("licence_console/confirm_invoices.html", title="Send invoices", licences=licences,
                             totals=totals, too_many=len(ids) > 20, idempotency_key=str(uuid.uuid4()))
    answer = await portal.api.post("/api/v1/invoices", json={"subscription_ids": ids},
                                   headers={"Idempotency-Key": str(form.get("idempotency_key") or uuid.uuid4())})
    if answer.status_code != 201:
        return portal.redirect("/licences", f"No invoice sent: {problem_detail(answer)}")
    numbers = ", ".join(invoice["number"] for invoice in answer.json()["items"])
    return portal.redirect("/invoices", f"Invoices sent: {numbers}.")


@router.post("/licences/redeem")
async def redeem(portal: PortalDep, code: Annotated[str, Form(max_length=32)] = "") -> Response:
    """The customer's "Add licence": a claim code from its reseller."""
    answer = await portal.api.post("/api/v1/claims/redeem", json={"code": code})
    if answer.status_code != 200:
        return portal.redirect("/licences", f"Not added: {problem_detail(answer)}")
    licence = answer.json()
    return portal.redirect("/licences", f"Licence {licence['name']} added: {licence['quantity']} for your devices.")


@router.get("/invoices")
async def invoices_page(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/invoices", params={**passed_on(request, ("state", "sort", "order", "cursor")),
                                                              "limit": PAGE_SIZE})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    return portal.render("licence_console/invoices.html", title="Invoices", items=page["items"],
                         next_cursor=page["next_cursor"], error=None if answer.status_code == 200 else
                         problem_detail(answer))


@router.get("/invoices/{invoice_id}.pdf")
async def invoice_pdf(portal: PortalDep, invoice_id: uuid.UUID) -> Response:
    return await portal.api.download(f"/api/v1/invoices/{invoice_id}.pdf")


@router.post("/invoices/{invoice_id}/{state}")
async def move_invoice(portal: PortalDep, invoice_id: uuid.UUID, state: str) -> Response:
    if state not in ("pay", "void"):
        return portal.redirect("/invoices", "Unknown action.")
    answer = await portal.api.post(f"/api/v1/invoices/{invoice_id}/{state}")
    if answer.status_code != 200:
        return portal.redirect("/invoices", f"Not changed: {problem_detail(answer)}")
    invoice = answer.json()
    return portal.redirect("/invoices", f"Invoice {invoice['number']} is {invoice['state']}.")


def _plans_page(portal: Portal, plans: list[dict], values: dict, errors: FormErrors | None = None,
                status_code: int = 200) -> Response:
    return portal.render("licence_console/plans.html", status_code=status_code, title="Plans", plans=plans, values=values,
                         errors=errors or FormErrors(), can_manage=portal.can(Action.MANAGE_PLANS))


@router.get("/plans")
async def plans_page(portal: PortalDep) -> Response:
    return _plans_page(portal, await _items(portal, "/api/v1/plans"),
                       dict.fromkeys(PLAN_FIELDS, "") | {"interval": "monthly", "currency": "EUR"})


@router.post("/plans")
async def add_plan(portal: PortalDep, name: Annotated[str, Form(max_length=120)] = "",
                   interval: Annotated[str, Form(max_length=20)] = "monthly",
                   interval_months: Annotated[str, Form(max_length=4)] = "",
                   unit_price: Annotated[str, Form(max_length=20)] = "",
                   currency: Annotated[str, Form(max_length=3)] = "EUR") -> Response:
    values = {"name": name.strip(), "interval": interval, "interval_months": interval_months.strip(),
              "unit_price": unit_price.strip(), "currency": currency.strip().upper()}
    body = {key: value for key, value in values.items() if value}
    if "interval_months" in body:
        body["interval_months"] = number_or_text(body["interval_months"])
    answer = await portal.api.post("/api/v1/plans", json=body)
    if answer.status_code != 201:
        return _plans_page(portal, await _items(portal, "/api/v1/plans"), values, form_errors(answer),
                           answer.status_code)
    return portal.redirect("/plans", f"Plan {answer.json()['name']} added.")
