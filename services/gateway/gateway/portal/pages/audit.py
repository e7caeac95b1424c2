"""The audit and event log: read-only, filtered by dates, type and user, searched by text, with
its CSV export for the roles that may export."""

from fastapi import Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import PortalDep
from gateway.portal.pages.listing import passed_on
from gateway.portal.routing import portal_router

router = portal_router()

TYPES = ("Activations", "Customers", "Distributors", "Integrators", "Licenses", "Members", "Notifications",
         "Organizations", "Sign-in", "Transfers")


def _api_filters(request: Request) -> dict[str, str]:
    """The page's filters as the API takes them: whole days from the date fields (the end inclusive)."""
    params = passed_on(request, ("type", "user", "search"))
    if start := request.query_params.get("from"):
        params["from"] = f"{start}T00:00:00"
    if end := request.query_params.get("to"):
        params["to"] = f"{end}T23:59:59.999999"
    return params


@router.get("/audit")
async def audit_log(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/audit-events", params={**_api_filters(request),
                                                                  **passed_on(request, ("cursor",))})
    page = answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}
    return portal.render("audit/page.html", fragment="audit/_list.html", title="Audit & event log", types=TYPES,
                         items=page["items"], next_cursor=page.get("next_cursor"),
                         error=None if answer.status_code == 200 else problem_detail(answer))


@router.get("/audit/export.csv")
async def export(portal: PortalDep, request: Request) -> Response:
    return await portal.api.download("/api/v1/audit-events/export.csv", _api_filters(request))
