"""The web portal the gateway serves: server-rendered pages (Jinja2) with htmx, reading and
writing only through the public API with the signed-in person's token. How to add a page:
docs in the README (Portal) and the page modules in pages/."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gateway.portal.pages import (activations, audit, dashboard, device_licenses, invites, licence_console, licenses, members,
                                  partners, profile, sign_in, transactions, transfers, vendor)
from gateway.portal.routing import SECURITY_HEADERS

STATIC_DIR = Path(__file__).parent / "static"

# Each page module's router; a new page adds its module here.
PAGES = (sign_in, invites, dashboard, licenses, transfers, transactions, audit, partners, members, activations,
         device_licenses, licence_console, vendor, profile)


def mount_portal(app: FastAPI) -> None:
    for page in PAGES:
        app.include_router(page.router)
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")


_SECURITY_HEADERS_RAW = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class _StaticFiles(StaticFiles):
    """The portal's scripts and styles, with its security headers (nosniff: a script is run only
    when served as one)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS_RAW]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)
