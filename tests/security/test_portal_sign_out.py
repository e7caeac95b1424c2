"""Issue 20, item 8: a page's parts share one renewal of the session (a refresh token is
single-use), kept a moment for the requests that raced it. Whoever held the old refresh cookie
must not be handed that renewed session once its owner has signed out."""

import httpx
import pytest

from tests.portal.signed_in import same_site, sign_in
from tests.system.platform import ADMIN_EMAIL

pytestmark = pytest.mark.system

PAGE = "/members"


def with_refresh_cookie_only(platform, refresh_token: str) -> httpx.AsyncClient:
    """A browser whose access cookie has expired (or a thief with the refresh cookie alone)."""
    return httpx.AsyncClient(base_url=platform.http.base_url, timeout=30, cookies={"portal_refresh": refresh_token})


async def test_the_old_refresh_cookie_gets_nothing_once_the_session_signed_out(platform):
    await platform.sign_in(ADMIN_EMAIL)  # the vendor exists
    async with httpx.AsyncClient(base_url=platform.http.base_url, timeout=30) as owner:
        await sign_in(owner, ADMIN_EMAIL)
        stolen = owner.cookies["portal_refresh"]
        owner.cookies.delete("portal_access")
        renewed = await owner.get(PAGE)  # the access token ran out: the refresh cookie renews it
        assert renewed.status_code == 200 and owner.cookies["portal_refresh"] != stolen

        async with with_refresh_cookie_only(platform, stolen) as racing_part:
            shared = await racing_part.get(PAGE)
        assert shared.status_code == 200, "a part of the page that raced the renewal shares it"

        signed_out = await owner.post("/sign-out", headers=same_site(owner))
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/sign-in"

    async with with_refresh_cookie_only(platform, stolen) as thief:
        answer = await thief.get(PAGE)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in"), answer.text
    assert "portal_access" not in thief.cookies


async def test_signing_out_with_an_expired_access_cookie_still_ends_the_session(platform):
    await platform.sign_in(ADMIN_EMAIL)
    async with httpx.AsyncClient(base_url=platform.http.base_url, timeout=30) as owner:
        await sign_in(owner, ADMIN_EMAIL)
        refresh = owner.cookies["portal_refresh"]
        owner.cookies.delete("portal_access")
        assert (await owner.post("/sign-out", headers=same_site(owner))).status_code == 303
    async with with_refresh_cookie_only(platform, refresh) as later:
        assert (await later.get(PAGE)).status_code == 303
