"""The landing page: the tier's metrics, quick actions, and the recent transactions (or
activations) and audit events, all from GET /api/v1/dashboard."""

from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import PortalDep
from gateway.portal.routing import portal_router

router = portal_router()


@router.get("/dashboard")
async def dashboard(portal: PortalDep) -> Response:
    answer = await portal.api.get("/api/v1/dashboard")
    if answer.status_code != 200:
        return portal.render("dashboard.html", title="Dashboard", board={}, error=problem_detail(answer))
    return portal.render("dashboard.html", title="Dashboard", board=answer.json())
