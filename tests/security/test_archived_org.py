"""Issue 20, item 7: an archived integrator keeps its members, but they may not create customers
(what archived means for each action: orgs.domain.partners.why_archived_may_not_create). The
distributor that archived it may unarchive it, and then it creates customers again."""

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast, created, partner
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_archived_integrator_cannot_create_customers_until_unarchived(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    admin_email = unique_email("archived-integrator")
    integrator = await created(lambda: distributor.post("/api/v1/integrators", json=partner(
        "Integrator to archive", admin_email)))
    member = await cast.platform.accept_invite(admin_email)
    archived = await distributor.post(f"/api/v1/integrators/{integrator['id']}/archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"

    attempt = await member.post("/api/v1/customers", json=partner("Customer of an archived integrator",
                                                                  unique_email("rep")))
    assert attempt.status_code == 403
    assert "archived" in attempt.json()["detail"]
    listed = (await member.get("/api/v1/customers")).json()["items"]
    assert "Customer of an archived integrator" not in [c["name"] for c in listed]

    assert (await distributor.post(f"/api/v1/integrators/{integrator['id']}/unarchive")).status_code == 200
    again = await member.post("/api/v1/customers", json=partner("Customer after unarchiving", unique_email("rep")))
    assert again.status_code == 201, again.text
