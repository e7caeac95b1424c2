"""Pages and htmx fragments from the Jinja2 templates, redirects that htmx follows, and the
one-shot flash message shown on the next page."""

import re
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from gateway.portal.navigation import menu_for, partner_word
from shared.auth.permissions import Action, is_allowed
from shared.auth.tokens import Caller

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "portal_flash"
TIME_ZONE_COOKIE = "portal_tz"  # the browser's IANA zone name, set by portal.js, or the one chosen
TIME_ZONE_CHOSEN_COOKIE = "portal_tz_chosen"  # "1": chosen in the profile, portal.js leaves it
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9\-._~/?=&%+,:@]*")

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def _datetime(value: Any) -> str:
    """The documents' format, DD MMM YYYY, HH:MM:SS, in the reader's time zone, which is shown."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(_reader_zone())
    return f"{local:%d %b %Y, %H:%M:%S} {local.tzname()}"


def _reader_zone() -> tzinfo:
    """The zone the reader's browser reported (portal.js keeps it in a cookie); UTC until it has."""
    request = _rendering.get(None)
    name = request.cookies.get(TIME_ZONE_COOKIE) if request is not None else None
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # not a zone name, or a path in disguise
        return UTC


def _date(value: Any) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(str(value)).strftime("%d %b %Y")


def _label(value: Any) -> str:
    """An API code for people: project_manager -> Project manager."""
    return str(value or "").replace("_", " ").capitalize()


# The request being rendered: macros imported without context (the Jinja default) reach it
# through the globals below.
_rendering: ContextVar[Request] = ContextVar("portal_rendering")


def _page_request() -> Request:
    return _rendering.get()


def _url_with(**changes: Any) -> str:
    """This page's address with some query parameters changed (None removes one): for sort
    headers, filters and paging links."""
    request = _rendering.get()
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v is not None]
    return request.url.path + (f"?{urlencode(params)}" if params else "")


def _label_pair(value: Any) -> tuple[Any, str]:
    """(code, its label): an option of a select."""
    return value, _label(value)


def _name_options(items: list[dict]) -> list[tuple[str, str]]:
    """(id, name): the options of a select of API items."""
    return [(str(item["id"]), item.get("name") or str(item["id"])) for item in items]


templates.env.filters.update(datetime=_datetime, date=_date, label=_label, label_pair=_label_pair,
                             name_options=_name_options)
templates.env.globals.update(Action=Action, url_with=_url_with, page_request=_page_request)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def render(request: Request, template: str, *, caller: Caller | None = None, fragment: str | None = None,
           status_code: int = 200, **values: Any) -> HTMLResponse:
    """The whole page, or only `fragment` (a template of its own) when htmx asks for a part."""
    flash = request.cookies.get(FLASH_COOKIE)
    values = {
        "caller": caller,
        "menu": menu_for(caller) if caller else [],
        "partner_word": partner_word(caller) if caller else "integrator",
        "can": (lambda action: is_allowed(caller.tier, caller.role, action)) if caller else (lambda action: False),
        "flash": unquote(flash) if flash else None,
        "htmx": is_htmx(request),
        **values,
    }
    name = fragment if fragment and is_htmx(request) else template
    rendering = _rendering.set(request)
    try:
        response = templates.TemplateResponse(request, name, values, status_code=status_code,
                                              headers={"Cache-Control": "no-store"})
    finally:
        _rendering.reset(rendering)
    if flash and name == template:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """After a successful POST: a 303 for a plain form, HX-Redirect for htmx (which would
    otherwise swap the next page into the part that asked)."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), path="/", httponly=True, samesite="strict", max_age=60)
    return response


def safe_next(url: str | None, default: str = "/dashboard") -> str:
    """Where to go after signing in: only a path of this site, never another site's address."""
    # Only plain path characters: a browser drops tabs and newlines, so "/\t/evil.example" would
    # become "//evil.example", another site.
    if not url or not _LOCAL_PATH.fullmatch(url) or url.startswith("//"):
        return default
    return url
