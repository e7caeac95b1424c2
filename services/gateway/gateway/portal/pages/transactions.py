"""Transactions: the read-only log of transfers and splits (filters, PO search, sort, column
chooser, detail panel) and its CSV export for the roles that may export."""

from fastapi import Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import PortalDep
from gateway.portal.navigation import partner_word
from gateway.portal.pages.listing import passed_on
from gateway.portal.rendering import is_htmx
from gateway.portal.routing import portal_router

router = portal_router()

FILTERS = ("from", "to", "product_id", "action_type", "counterparty_id", "search")
LISTING = (*FILTERS, "sort", "order", "cursor")


@router.get("/transactions")
async def transactions(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/transactions", params=passed_on(request, LISTING))
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    error = None if answer.status_code == 200 else problem_detail(answer)
    values = {"title": "Transactions", "items": page["items"], "next_cursor": page.get("next_cursor"), "error": error}
    if is_htmx(request):
        return portal.render("transactions/page.html", fragment="transactions/_list.html", **values)
    # The filters' choices: the caller's products and partners (only for the whole page).
    products = await portal.api.get("/api/v1/licenses/products", params={"limit": 200})
    partners = await portal.api.get(f"/api/v1/{partner_word(portal.caller)}s", params={"limit": 200, "sort": "name"})
    return portal.render("transactions/page.html", **values,
                         products=products.json()["items"] if products.status_code == 200 else [],
                         partners=partners.json()["items"] if partners.status_code == 200 else [])


@router.get("/transactions/export.csv")
async def export(portal: PortalDep, request: Request) -> Response:
    return await portal.api.download("/api/v1/transactions/export.csv", passed_on(request, (*FILTERS, "sort", "order")))


@router.get("/transactions/{transaction_id}/panel")
async def panel(portal: PortalDep, transaction_id: str, at: str) -> Response:
    """The detail panel: the row is found again by its moment (`at`), which the list gave."""
    answer = await portal.api.get("/api/v1/transactions", params={"from": at, "to": at, "limit": 200})
    found = [t for t in answer.json()["items"] if t["id"] == transaction_id] if answer.status_code == 200 else []
    if not found:
        message = problem_detail(answer) if answer.status_code != 200 else "This transaction is not in your log."
        return portal.render("error_panel.html", message=message)
    return portal.render("transactions/_panel.html", t=found[0])
