"""Issue 21, Missing: the accept-invite page says which company, role and email the invite is for,
and a dead link (made up, already used) says so before any form is filled in; a pending
invitation has a detail panel."""

import re

import pytest

from tests.portal.signed_in import same_site, sign_in
from tests.portal.world import invited
from tests.system.platform import PASSWORD

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_the_accept_page_names_the_company_role_and_email(portal, platform, distributor):
    email, token = await invited(platform, distributor.admin, "auditor", "invitee")

    page = await portal.get("/accept-invite", params={"token": token})
    assert page.status_code == 200
    assert distributor.name in page.text and "Auditor" in page.text and email in page.text
    assert 'name="password"' in page.text

    accepted = await portal.post("/invites/accept", headers=same_site(portal), data={
        "token": token, "first_name": "Ada", "last_name": "Lovelace", "password": PASSWORD,
        "password_again": PASSWORD})
    assert accepted.status_code == 303, accepted.text
    portal.cookies.clear()
    used = await portal.get("/accept-invite", params={"token": token})
    assert "This invitation cannot be used" in used.text and 'name="password"' not in used.text


async def test_a_made_up_link_says_so_before_the_form(portal):
    page = await portal.get("/accept-invite", params={"token": "made-up-token-0123456789"})
    assert "This invitation cannot be used" in page.text and 'role="alert"' in page.text
    assert 'name="password"' not in page.text


async def test_an_invitations_panel_shows_its_email_phone_role_and_when_it_was_sent(portal, platform, distributor):
    email, _ = await invited(platform, distributor.admin, "project_manager", "pm-invitee")
    await sign_in(portal, distributor.admin_email)
    listed = await portal.get("/members", params={"view": "invited", "q": email})
    link = re.search(r'hx-get="(/members/invites/[^"]+)"', listed.text).group(1).replace("&amp;", "&")
    panel = await portal.get(link, headers={"HX-Request": "true"})
    assert panel.status_code == 200
    details = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", panel.text))
    assert details["Email"] == email and details["Role"] == "Project manager"
    assert re.fullmatch(r"\d{2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} \w+", details["Sent"])
