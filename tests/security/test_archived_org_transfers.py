"""An archived integrator makes no outgoing transfer: its Admin still holds licenses and a valid
token, but transfers refuses (409) while the org is archived, and takes the transfer again once
it is unarchived. Also shown on the way: a transfer to an integrator created a moment before is
taken at once (never a 404 for an org that exists), and a sender that declines the notification
mails nobody."""

import pytest
import sqlalchemy as sa

from shared.auth.permissions import Tier
from shared.testing import eventually
from tests.security.cast import Cast, created, partner
from tests.security.transfer_helpers import fresh_integrator, line, outcome
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


async def status_in_transfers(cast: Cast, org_id: str) -> str | None:
    async with cast.platform.apps["transfers"].state.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT status FROM org_directory WHERE id = :id"), {"id": org_id})


async def queued_mails(cast: Cast, *addresses: str) -> list[tuple[str, list[str]]]:
    """The transfer mails notify owes to these addresses (as recipient or CC)."""
    async with cast.platform.apps["notify"].state.engine.connect() as conn:
        rows = await conn.execute(sa.text(
            "SELECT recipient, cc FROM notifications WHERE event_type = 'entitlements.transfer.completed'"
            " AND (recipient = ANY(:addresses) OR cc && :addresses)"), {"addresses": list(addresses)})
        return [(row.recipient, list(row.cc)) for row in rows]


async def test_an_archived_integrator_transfers_nothing_until_unarchived(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    integrator_id, representative = await fresh_integrator(cast, "Archived Sender")
    # Created a moment ago: transfers waits for it to arrive instead of answering 404.
    declined_cc = unique_email("declined-cc")
    given = await distributor.post("/api/v1/transfers", json={
        **line(cast), "quantity": 3, "to_org_id": integrator_id, "notify_representative": False,
        "cc_emails": [declined_cc]})
    assert given.status_code == 202, given.text
    assert await outcome(distributor, given.json()["id"]) == "completed"
    told = await distributor.post("/api/v1/transfers", json={**line(cast), "quantity": 1, "to_org_id": integrator_id})
    assert await outcome(distributor, told.json()["id"]) == "completed"
    # Only the transfer whose sender asked for it mails the representative; the declined one mails nobody.
    assert await eventually(lambda: queued_mails(cast, representative), timeout=30) == [(representative, [])]
    assert await queued_mails(cast, declined_cc) == []

    integrator = await cast.platform.accept_invite(representative)
    customer = await created(lambda: integrator.post("/api/v1/customers", json=partner(
        "Archived Sender's Customer", unique_email("archived-sender-customer"))))
    to_customer = {**line(cast), "quantity": 1, "to_org_id": customer["id"], "notify_representative": False}

    archived = await distributor.post(f"/api/v1/integrators/{integrator_id}/archive")
    assert archived.status_code == 200, archived.text
    assert await eventually(lambda: _is(status_in_transfers(cast, integrator_id), "archived"))
    refused = await integrator.post("/api/v1/transfers", json=to_customer)
    assert refused.status_code == 409, refused.text
    assert "archived and makes no transfers" in refused.json()["detail"]
    assert (await integrator.get("/api/v1/transfers")).json()["items"] == []

    unarchived = await distributor.post(f"/api/v1/integrators/{integrator_id}/unarchive")
    assert unarchived.status_code == 200, unarchived.text
    assert await eventually(lambda: _is(status_in_transfers(cast, integrator_id), "active"))
    taken = await integrator.post("/api/v1/transfers", json=to_customer)
    assert taken.status_code == 202, taken.text
    assert await outcome(integrator, taken.json()["id"]) == "completed"


async def _is(value, expected) -> bool:
    return await value == expected
