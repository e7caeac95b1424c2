"""What archived means in the ledger: an archived org receives nothing (test_ledger) and sends
nothing."""

import uuid

import sqlalchemy as sa

from entitlements.ledger import apply_transfer
from shared.db import UnitOfWork
from shared.events.entitlements import TransferRejected
from shared.events.transfers import TransferRequested


async def test_an_integrator_archived_after_receiving_licenses_cannot_pass_them_on(app, licensing):
    """The ledger applies a transfer some time after it was requested: a sender archived in between
    gives nothing away (orgs.domain.partners.why_archived_may_not_create lists what archived means)."""
    camera = await licensing.product()
    entitlement_id = (await licensing.issue([(camera, 5)]))["entitlement_id"]
    await licensing.transfer(entitlement_id, camera, licensing.orgs.distributor, licensing.orgs.integrator, 5)
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE org_directory SET status = 'archived' WHERE id = :id"),
                           {"id": licensing.orgs.integrator})
    request = TransferRequested(transfer_id=uuid.uuid4(), from_org_id=licensing.orgs.integrator,
                                to_org_id=licensing.orgs.customer, entitlement_id=entitlement_id,
                                product_id=camera["id"], quantity=2)
    async with UnitOfWork(app.state.session_factory, producer="entitlements") as uow:
        outcome = await apply_transfer(uow, request)
        await uow.commit()
    assert isinstance(outcome, TransferRejected) and outcome.reason_code == "sender_archived"
    detail = await licensing.api.get(f"/api/v1/entitlements/{entitlement_id}", headers=licensing.integrator)
    assert detail.json()["lines"][0]["available"] == 5
    await licensing.conserved()
