"""Signing in for the portal tests: a plain-HTTP client with same-site POSTs (what a browser sends;
the portal refuses POSTs that show no Origin of its own), and a browser tab opened on a page."""

from urllib.parse import urlsplit

import httpx

from tests.system.platform import PASSWORD


def same_site(portal: httpx.AsyncClient) -> dict[str, str]:
    return {"Origin": str(portal.base_url).rstrip("/")}


async def sign_in(portal: httpx.AsyncClient, email: str) -> None:
    answer = await portal.post("/sign-in", data={"email": email, "password": PASSWORD}, headers=same_site(portal))
    assert answer.status_code == 303, answer.text


async def post_form(portal: httpx.AsyncClient, path: str, data, htmx: bool = False) -> httpx.Response:
    """A form as a browser posts it; `data` may be a list of pairs for repeated field names."""
    headers = same_site(portal) | ({"HX-Request": "true"} if htmx else {})
    return await portal.post(path, content=str(httpx.QueryParams(data)).encode(),
                             headers=headers | {"Content-Type": "application/x-www-form-urlencoded"})


async def open_signed_in(page, email: str, path: str) -> None:
    """Signs in from the sign-in page that `path` sends a visitor to, landing straight on `path`
    (the dashboard, which reads every service, is not loaded on the way)."""
    await page.goto(path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == path)
