"""Issue 20, item 7 (identity's part): the members of an archived integrator or customer invite no
one until it is unarchived; identity knows of the archive from the orgs events. Issue 21: the
accept page asks the public API, without a token, what a link is for."""

import pytest

from shared.auth.permissions import Tier
from shared.testing import eventually
from tests.security.cast import Cast, created, partner
from tests.security.members import answers, invite_token
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_archived_integrator_cannot_invite_until_unarchived(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR]
    admin_email = unique_email("archived-admin")
    integrator = await created(lambda: distributor.http.post("/api/v1/integrators", json=partner(
        "Integrator to archive", admin_email)))
    admin = await cast.platform.accept_invite(admin_email)

    def invite():
        return admin.post("/api/v1/invites", json={"email": unique_email("after-archive"), "role": "viewer"})

    assert (await distributor.http.post(f"/api/v1/integrators/{integrator['id']}/archive")).status_code == 200
    await eventually(lambda: answers(invite, 409), timeout=15)
    refused = await invite()
    assert "archived" in refused.json()["detail"]
    assert refused.headers["content-type"].startswith("application/problem+json")

    # Unarchived, it invites again.
    assert (await distributor.http.post(f"/api/v1/integrators/{integrator['id']}/unarchive")).status_code == 200
    await eventually(lambda: answers(invite, 201), timeout=15)


async def test_the_accept_page_learns_the_company_role_and_email_without_signing_in(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR]
    email = unique_email("page")
    invited = await distributor.http.post("/api/v1/invites", json={"email": email, "role": "technician"})
    token = await invite_token(cast.platform.apps["identity"], invited.json()["id"])

    shown = await cast.platform.http.get("/api/v1/invites/accept", params={"token": token})
    assert shown.status_code == 200, shown.text
    assert {k: shown.json()[k] for k in ("organization", "email", "role")} == {
        "organization": "Distributor a", "email": email, "role": "technician"}
    dead = await cast.platform.http.get("/api/v1/invites/accept", params={"token": "no-such-link-" * 3})
    assert dead.status_code == 404 and "not valid" in dead.json()["detail"]
