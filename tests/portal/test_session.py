"""The portal's session and its guards, seen over plain HTTP (what a browser test is slow for)."""

import pytest

from tests.portal.signed_in import same_site
from tests.portal.world import invited
from tests.system.platform import PASSWORD

pytestmark = pytest.mark.system  # the whole platform runs behind the portal


async def test_a_page_without_a_session_sends_the_visitor_to_sign_in(portal):
    answer = await portal.get("/dashboard?from=2026-01-01")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/dashboard%3Ffrom%3D2026-01-01"
    page = await portal.get(answer.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/dashboard?from=2026-01-01"' in page.text


async def test_a_wrong_password_shows_the_reason_and_keeps_the_email(portal, distributor):
    answer = await portal.post("/sign-in", data={"email": distributor.admin_email, "password": "not it"},
                               headers=same_site(portal))
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text and "password" in answer.text.lower()
    assert f'value="{distributor.admin_email}"' in answer.text
    assert "portal_access" not in answer.cookies


async def test_signing_in_sets_httponly_strict_cookies_and_opens_the_page_asked_for(portal, distributor):
    answer = await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD,
                                                 "next": "/transactions"}, headers=same_site(portal))
    assert answer.status_code == 303 and answer.headers["location"] == "/transactions"
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("HttpOnly" in c and "SameSite=strict" in c for c in cookies), cookies
    dashboard = await portal.get("/dashboard")
    assert dashboard.status_code == 200 and distributor.admin_email in dashboard.text


async def test_signing_in_never_sends_the_person_to_another_site(portal, distributor):
    for elsewhere in ("//evil.example/", "/\t/evil.example", "https://evil.example/"):
        page = await portal.get("/sign-in", params={"next": elsewhere})
        assert 'name="next" value="/dashboard"' in page.text, elsewhere
    answer = await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD,
                                                 "next": "/\t/evil.example"}, headers=same_site(portal))
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")


async def test_a_post_from_another_site_is_refused_and_changes_nothing(portal, distributor):
    answer = await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD},
                               headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403 and "portal_access" not in answer.cookies
    answer = await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD})
    assert answer.status_code == 403, "a POST that shows neither Origin nor Referer is refused too"

    await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD},
                      headers=same_site(portal))
    refused = await portal.post("/sign-out", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert (await portal.get("/dashboard")).status_code == 200, "still signed in"


async def test_signing_out_ends_the_session(portal, distributor):
    await portal.post("/sign-in", data={"email": distributor.admin_email, "password": PASSWORD},
                      headers=same_site(portal))
    answer = await portal.post("/sign-out", headers=same_site(portal))
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    assert (await portal.get("/dashboard")).status_code == 303


async def test_an_invitee_accepts_from_the_email_link_and_is_signed_in(portal, platform, distributor):
    email, token = await invited(platform, distributor.admin, "auditor", "invitee")
    page = await portal.get("/accept-invite", params={"token": token})
    assert page.status_code == 200 and f'value="{token}"' in page.text

    form = {"token": token, "first_name": "Ada", "last_name": "Lovelace", "password": PASSWORD}
    refused = await portal.post("/invites/accept", data={**form, "password_again": "something else"},
                                headers=same_site(portal))
    assert refused.status_code == 422 and "passwords differ" in refused.text and 'value="Ada"' in refused.text
    too_short = await portal.post("/invites/accept", data={**form, "password": "short", "password_again": "short"},
                                  headers=same_site(portal))
    assert too_short.status_code == 422 and 'role="alert"' in too_short.text and "password" in too_short.text

    accepted = await portal.post("/invites/accept", data={**form, "password_again": PASSWORD},
                                 headers=same_site(portal))
    assert accepted.status_code == 303 and accepted.headers["location"] == "/dashboard"
    dashboard = await portal.get("/dashboard")
    assert dashboard.status_code == 200 and email in dashboard.text and "Auditor" in dashboard.text
