"""Issue 20, item 1: a demoted or removed member keeps nothing of the old role. Identity acts on
the member's current row at once; every other service refuses the member's older tokens as soon
as identity's member event reaches it (shared.auth.member_tokens)."""

import pytest

from shared.auth.permissions import Tier
from shared.testing import eventually
from tests.security.cast import Cast
from tests.security.members import answers, join

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_a_demoted_admin_cannot_promote_itself_back(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    demoted = await join(cast.platform, admin, "admin")
    assert (await demoted.http.get("/api/v1/audit-events")).status_code == 200  # an Admin may, before

    answer = await admin.http.patch(f"/api/v1/members/{demoted.id}", json={"role": "viewer"})
    assert answer.status_code == 200, answer.text

    # The attack: its token still says Admin. Identity reads the current row: refused at once.
    back = await demoted.http.patch(f"/api/v1/members/{demoted.id}", json={"role": "admin"})
    assert back.status_code == 403, back.text
    assert (await admin.http.get(f"/api/v1/members/{demoted.id}")).json()["role"] == "viewer"
    # Everywhere else the old token is void as soon as the role change arrives.
    await eventually(lambda: answers(lambda: demoted.http.get("/api/v1/audit-events"), 401), timeout=15)

    # The legitimate use: signed in again, it works as a Viewer; the Admin still manages members.
    as_viewer = await cast.platform.sign_in(demoted.email)
    assert (await as_viewer.get("/api/v1/me")).json()["role"] == "viewer"
    assert (await as_viewer.get("/api/v1/transactions")).status_code == 200
    assert (await as_viewer.get("/api/v1/audit-events")).status_code == 403
    assert (await admin.http.patch(f"/api/v1/members/{demoted.id}", json={"role": "admin"})).status_code == 200


async def test_a_removed_admin_cannot_invite_a_new_admin(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    removed = await join(cast.platform, admin, "admin")
    assert (await admin.http.delete(f"/api/v1/members/{removed.id}")).status_code == 204

    planted = await removed.http.post("/api/v1/invites", json={"email": "accomplice@example.com", "role": "admin"})
    assert planted.status_code == 401, planted.text
    invited = (await admin.http.get("/api/v1/invites", params={"q": "accomplice"})).json()["items"]
    assert invited == []
    # Nor can it create an integrator (orgs) once the removal has arrived there.
    await eventually(lambda: answers(lambda: removed.http.get("/api/v1/integrators"), 401), timeout=15)

    # The legitimate Admin still invites.
    assert (await admin.http.post("/api/v1/invites", json={
        "email": f"colleague-{removed.id[:8]}@example.com", "role": "admin"})).status_code == 201


async def test_a_removed_project_manager_cannot_complete_a_transfer(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    manager = await join(cast.platform, admin, "project_manager")
    transfer = {"entitlement_id": cast.own.ids[("entitlements", "entitlement_id")],
                "product_id": cast.own.ids[("licenses", "product_id")], "quantity": 1,
                "to_org_id": cast.own.ids[("integrators", "org_id")]}
    assert (await manager.http.post("/api/v1/transfers", json=transfer)).status_code == 202  # before: allowed

    assert (await admin.http.delete(f"/api/v1/members/{manager.id}")).status_code == 204
    await eventually(lambda: answers(lambda: manager.http.post("/api/v1/transfers", json=transfer), 401), timeout=15)
    # Refused for good, not once.
    for _ in range(3):
        assert (await manager.http.post("/api/v1/transfers", json=transfer)).status_code == 401

    # The Admin (whose tokens nothing voided) still transfers.
    assert (await admin.http.post("/api/v1/transfers", json=transfer)).status_code == 202
