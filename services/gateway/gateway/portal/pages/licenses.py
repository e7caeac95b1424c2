"""The licensing overview: the products tab and the entitlements tab (search, filters, sortable
columns, column chooser) with their right-side detail panels, from /api/v1/licenses/products and
/api/v1/entitlements."""

from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal, PortalDep
from gateway.portal.pages.listing import passed_on
from gateway.portal.routing import portal_router

router = portal_router()

PRODUCT_FILTERS = ("search", "sort", "order", "cursor")
ENTITLEMENT_FILTERS = ("search", "search_field", "status", "order_date_from", "order_date_to",
                       "expiration_date_from", "expiration_date_to", "sort", "order", "cursor")


@router.get("/licenses")
async def products_tab(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/licenses/products", params=passed_on(request, PRODUCT_FILTERS))
    return _list(portal, answer, "licenses/products.html", "licenses/_products_list.html")


@router.get("/licenses/entitlements")
async def entitlements_tab(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/entitlements", params=passed_on(request, ENTITLEMENT_FILTERS))
    return _list(portal, answer, "licenses/entitlements.html", "licenses/_entitlements_list.html")


def _list(portal, answer, template: str, fragment: str) -> Response:
    if answer.status_code != 200:
        return portal.render(template, fragment=fragment, title="Licensing", items=[], next_cursor=None,
                             error=problem_detail(answer))
    page = answer.json()
    return portal.render(template, fragment=fragment, title="Licensing", items=page["items"],
                         next_cursor=page.get("next_cursor"))


@router.get("/licenses/products/{product_id}/panel")
async def product_panel(portal: PortalDep, product_id: str) -> Response:
    return await _panel(portal, "/api/v1/licenses/products", product_id, "licenses/_product_panel.html", "product")


@router.get("/licenses/entitlements/{entitlement_id}/panel")
async def entitlement_panel(portal: PortalDep, entitlement_id: str) -> Response:
    return await _panel(portal, "/api/v1/entitlements", entitlement_id, "licenses/_entitlement_panel.html",
                        "entitlement")


async def _panel(portal: Portal, collection: str, item_id: str, template: str, name: str) -> Response:
    answer = await portal.api.get(f"{collection}/{quote(item_id, safe='')}")
    if answer.status_code != 200:
        return portal.render("error_panel.html", message=problem_detail(answer))
    return portal.render(template, **{name: answer.json()})
