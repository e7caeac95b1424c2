"""The web portal the gateway serves: server-rendered pages (Jinja2) with htmx, reading and
writing only through the public API with the signed-in person's token. How to add a page:
docs in the README (Portal) and the page modules in pages/."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.portal.pages import (activations, audit, dashboard, device_licenses, invites, licences, licenses, members,
                                  partners,
                                  sign_in, transactions, transfers)

STATIC_DIR = Path(__file__).parent / "static"

# Each page module's router; a new page adds its module here.
PAGES = (sign_in, invites, dashboard, licenses, transfers, transactions, audit, partners, members, activations,
         device_licenses, licences)


def mount_portal(app: FastAPI) -> None:
    for page in PAGES:
        app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
