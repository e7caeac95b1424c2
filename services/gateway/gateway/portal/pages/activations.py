"""Activations (end customer): the log of activated licenses (date range, product, text search,
sort, optional columns), its CSV export for the roles that may export, and the activate dialog
that consumes licenses the org holds for a project, showing the API's refusal when it refuses, and
each active row's Deactivate button (after a confirmation) that gives its licenses back."""

import uuid
from typing import Annotated

from fastapi import Form, Query, Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.pages.listing import passed_on
from gateway.portal.rendering import is_htmx
from gateway.portal.routing import portal_router
from gateway.portal.form_values import number_or_text

router = portal_router()

PAGE_SIZE = 25
FILTERS = ("date_from", "date_to", "product_id", "search")
LISTING = (*FILTERS, "sort", "order", "cursor")
FIELDS = ("line", "quantity", "project_name", "project_manager", "serial_number")


async def _held_products(portal: Portal) -> list[dict]:
    """The products the org holds (for the product filter and the activate dialog's lines)."""
    answer = await portal.api.get("/api/v1/licenses/products", params={"limit": 200})
    return answer.json()["items"] if answer.status_code == 200 else []


def _lines(products: list[dict]) -> list[tuple[str, str]]:
    """The entitlement lines with licenses left to activate, as (entitlement|product, label)."""
    return [
        (f"{e['entitlement_id']}|{p['product_id']}",
         f"{p['name']} · entitlement {e['entitlement_id']} · {e['available']} unactivated")
        for p in products for e in p["entitlements"] if e["available"] > 0
    ]


@router.get("/activations")
async def activations_page(portal: PortalDep, request: Request, activate: bool = False) -> Response:
    answer = await portal.api.get("/api/v1/activations", params={**passed_on(request, LISTING), "limit": PAGE_SIZE})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    values = {"title": "Activations", "items": page["items"], "next_cursor": page["next_cursor"],
              "error": None if answer.status_code == 200 else problem_detail(answer),
              "filters": passed_on(request, FILTERS), "open_activate": activate}
    products = [] if is_htmx(request) else await _held_products(portal)  # the filter's choices, whole page only
    return portal.render("activations/list.html", fragment="activations/_list.html", products=products, **values)


@router.post("/activations/{activation_id}/deactivate")
async def deactivate(portal: PortalDep, activation_id: uuid.UUID) -> Response:
    """The licenses of an activation go back to available (the row's Deactivate button)."""
    answer = await portal.api.post(f"/api/v1/activations/{activation_id}/deactivate")
    if answer.status_code != 200:
        return portal.redirect("/activations", f"Not deactivated: {problem_detail(answer)}")
    done = answer.json()
    return portal.redirect("/activations", f"Deactivated {done['quantity']} × {done['product_name']} of project "
                                           f"{done['project_name']}: the licenses are available again.")


@router.get("/activations/export.csv")
async def export(portal: PortalDep, request: Request) -> Response:
    return await portal.api.download("/api/v1/activations/export.csv", passed_on(request, FILTERS))


def _dialog(portal: Portal, lines: list[tuple[str, str]], values: dict[str, str], errors: FormErrors | None = None,
            status_code: int = 200) -> Response:
    return portal.render("activations/activate.html", fragment="activations/_activate_form.html",
                         status_code=status_code, title="Activate licenses", lines=lines, values=values,
                         errors=errors or FormErrors())


@router.get("/activations/new")
async def activate_form(portal: PortalDep, line: Annotated[str, Query(max_length=100)] = "") -> Response:
    values = dict.fromkeys(FIELDS, "") | {"line": line, "quantity": "1", "idempotency_key": str(uuid.uuid4())}
    return _dialog(portal, _lines(await _held_products(portal)), values)


@router.post("/activations/new")
async def activate(portal: PortalDep, line: Annotated[str, Form(max_length=100)] = "",
                   quantity: Annotated[str, Form(max_length=20)] = "",
                   project_name: Annotated[str, Form(max_length=200)] = "",
                   project_manager: Annotated[str, Form(max_length=200)] = "",
                   serial_number: Annotated[str, Form(max_length=100)] = "",
                   idempotency_key: Annotated[str, Form(max_length=64)] = "") -> Response:
    values = {"line": line, "quantity": quantity.strip(), "project_name": project_name.strip(),
              "project_manager": project_manager.strip(), "serial_number": serial_number.strip(),
              "idempotency_key": idempotency_key or str(uuid.uuid4())}
    entitlement_id, _, product_id = line.partition("|")
    if not entitlement_id or not product_id:
        lines = _lines(await _held_products(portal))
        return _dialog(portal, lines, values, FormErrors({"line": "Choose the licenses to activate."}), 422)
    body = {"entitlement_id": entitlement_id, "product_id": product_id, "quantity": number_or_text(values["quantity"]),
            "project_name": values["project_name"],
            **{k: values[k] for k in ("project_manager", "serial_number") if values[k]}}
    answer = await portal.api.post("/api/v1/activations", json=body,
                                   headers={"Idempotency-Key": values["idempotency_key"]})
    if answer.status_code != 201:
        errors = form_errors(answer)
        if answer.status_code == 409 and answer.json().get("title") == "insufficient_quantity":
            errors.fields["quantity"] = errors.form
            errors.form = f"Not activated: {errors.form}"
        # The API names the body's ids; on this form they are one choice.
        for key in ("entitlement_id", "product_id"):
            if key in errors.fields:
                errors.fields.setdefault("line", errors.fields.pop(key))
        return _dialog(portal, _lines(await _held_products(portal)), values, errors, answer.status_code)
    done = answer.json()
    return portal.redirect("/activations", f"Activated {done['quantity']} × {done['product_name']} for "
                                           f"project {done['project_name']}.")
