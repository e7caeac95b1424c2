"""The vendor's pages: its distributors (list, create with the first Admin's email, which invites
them), its products (list, create) and issuing an entitlement with its lines to a distributor.
The entitlements issued are listed and shown in the Licensing pages, as for every tier."""

import uuid
from typing import Annotated

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.field_errors import FormErrors, form_errors
from gateway.portal.routing import portal_router

router = portal_router()

LICENSE_TYPES = ("perpetual", "subscription", "trial", "term", "floating", "usage_based")
DEPLOYMENT_TYPES = ("on_premise", "cloud", "hybrid")
LINE_ROWS = 5  # line rows the issue form offers; empty ones are left out
LIST_LIMIT = 200


async def _items(portal: Portal, path: str, **params) -> tuple[list[dict], str | None]:
    answer = await portal.api.get(path, params={"limit": LIST_LIMIT, **params})
    if answer.status_code != 200:
        return [], form_errors(answer).form
    return answer.json()["items"], None


def _filled(form: dict[str, str]) -> dict[str, str]:
    """Blank fields are not sent: the API tells a missing optional field from an empty one."""
    return {name: value.strip() for name, value in form.items() if value and value.strip()}


async def _created(portal: Portal, path: str, body: dict, idempotency_key: str) -> FormErrors | None:
    answer = await portal.api.post(path, json=body, headers={"Idempotency-Key": idempotency_key})
    return None if answer.status_code == 201 else form_errors(answer)


@router.get("/distributors")
async def distributors(portal: PortalDep) -> Response:
    return await _distributors_page(portal, {}, FormErrors())


async def _distributors_page(portal: Portal, values: dict, errors: FormErrors, status_code: int = 200) -> Response:
    items, error = await _items(portal, "/api/v1/distributors", sort="name")
    return portal.render("vendor/distributors.html", status_code=status_code, title="Distributors", items=items,
                         error=error, values=values, errors=errors, idempotency_key=str(uuid.uuid4()))


@router.post("/distributors")
async def create_distributor(portal: PortalDep, name: Annotated[str, Form()], admin_email: Annotated[str, Form()],
                             idempotency_key: Annotated[str, Form()], country: Annotated[str, Form()] = "",
                             email_domain: Annotated[str, Form()] = "") -> Response:
    values = {"name": name, "admin_email": admin_email, "country": country.upper(), "email_domain": email_domain}
    errors = await _created(portal, "/api/v1/distributors", _filled(values), idempotency_key)
    if errors:
        return await _distributors_page(portal, values, errors, status_code=422)
    return portal.redirect("/distributors", f"Distributor {name.strip()} created; {admin_email.strip()} is invited "
                                            "as its Admin.")


@router.get("/products")
async def products(portal: PortalDep) -> Response:
    return await _products_page(portal, {}, FormErrors())


async def _products_page(portal: Portal, values: dict, errors: FormErrors, status_code: int = 200) -> Response:
    items, error = await _items(portal, "/api/v1/products", sort="name")
    return portal.render("vendor/products.html", status_code=status_code, title="Products", items=items, error=error,
                         values=values, errors=errors, license_types=LICENSE_TYPES,
                         deployment_types=DEPLOYMENT_TYPES, idempotency_key=str(uuid.uuid4()))


@router.post("/products")
async def create_product(portal: PortalDep, name: Annotated[str, Form()], license_type: Annotated[str, Form()],
                         idempotency_key: Annotated[str, Form()], description: Annotated[str, Form()] = "",
                         deployment_type: Annotated[str, Form()] = "") -> Response:
    values = {"name": name, "license_type": license_type, "description": description,
              "deployment_type": deployment_type}
    errors = await _created(portal, "/api/v1/products", _filled(values), idempotency_key)
    if errors:
        return await _products_page(portal, values, errors, status_code=422)
    return portal.redirect("/products", f"Product {name.strip()} created.")


@router.get("/entitlements/new")
async def new_entitlement(portal: PortalDep, distributor_id: str = "") -> Response:
    return await _entitlement_page(portal, {"distributor_id": distributor_id}, [], FormErrors())


async def _entitlement_page(portal: Portal, values: dict, lines: list[dict], errors: FormErrors,
                            status_code: int = 200) -> Response:
    distributors_found, distributors_error = await _items(portal, "/api/v1/distributors", sort="name")
    products_found, products_error = await _items(portal, "/api/v1/products", sort="name")
    rows = [*lines, *({"product_id": "", "quantity": ""} for _ in range(LINE_ROWS - len(lines)))]
    return portal.render("vendor/entitlement_new.html", status_code=status_code, title="Issue an entitlement",
                         distributors=distributors_found, products=products_found, values=values, lines=rows,
                         errors=errors, error=distributors_error or products_error,
                         idempotency_key=str(uuid.uuid4()))


@router.post("/entitlements/new")
async def issue_entitlement(portal: PortalDep, request: Request) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in
              ("distributor_id", "sales_order", "po_number", "order_date", "expiration_date")}
    lines = [{"product_id": str(product), "quantity": str(quantity).strip()}
             for product, quantity in zip(form.getlist("product_id"), form.getlist("quantity"), strict=False)
             if product or str(quantity).strip()]
    body = {**_filled(values), "lines": [
        {"product_id": line["product_id"], "quantity": int(line["quantity"]) if line["quantity"].isdigit()
         else line["quantity"]} for line in lines]}
    errors = await _created(portal, "/api/v1/entitlements", body, str(form.get("idempotency_key", "")))
    if errors:
        return await _entitlement_page(portal, values, lines, errors, status_code=422)
    return portal.redirect("/licenses/entitlements", f"Entitlement issued (sales order {values['sales_order']}).")
