"""What a page handler gets: `portal: PortalDep` is the signed-in person (caller), an API client
acting with their token, a permission check for showing or hiding buttons, and rendering."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, Response

from gateway.portal.api_client import PortalApi
from gateway.portal.rendering import redirect, render
from gateway.portal.session import signed_in
from shared.auth.permissions import Action, is_allowed
from shared.auth.tokens import Caller


@dataclass(frozen=True)
class Portal:
    request: Request
    caller: Caller
    api: PortalApi

    def can(self, action: Action) -> bool:
        """Only for showing or hiding controls: the API call itself is what enforces it."""
        return is_allowed(self.caller.tier, self.caller.role, action)

    def render(self, template: str, *, fragment: str | None = None, status_code: int = 200,
               **values: Any) -> HTMLResponse:
        return render(self.request, template, caller=self.caller, fragment=fragment, status_code=status_code,
                      **values)

    def redirect(self, url: str, flash: str | None = None) -> Response:
        return redirect(self.request, url, flash)


async def current_portal(request: Request) -> Portal:
    session = await signed_in(request)
    return Portal(request, session.caller, PortalApi(request, session.access_token))


PortalDep = Annotated[Portal, Depends(current_portal)]
