"""End to end over the real broker: a transfer request from the transfers service's outbox is
applied by this service's consumer, and the customer can then activate what it received."""

import asyncio
import contextlib
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.bus.relay import OutboxRelay
from shared.db import UnitOfWork, create_engine
from shared.events.transfers import TransferRequested
from shared.testing import eventually


async def test_licenses_transferred_over_the_bus_can_be_activated(app, api, licensing, infrastructure):
    camera = await licensing.product()
    entitlement_id = (await licensing.issue([(camera, 8)]))["entitlement_id"]
    await licensing.transfer(entitlement_id, camera, licensing.orgs.distributor, licensing.orgs.integrator, 5)

    # The transfers service's side: the request recorded in its own database's outbox, then relayed.
    transfers_engine = create_engine(infrastructure.database_url("transfers"))
    request = TransferRequested(transfer_id=uuid.uuid4(), from_org_id=licensing.orgs.integrator,
                                to_org_id=licensing.orgs.customer, entitlement_id=entitlement_id,
                                product_id=camera["id"], quantity=3)
    async with UnitOfWork(async_sessionmaker(transfers_engine), producer="transfers") as uow:
        uow.record(request, visible_to=[licensing.orgs.integrator], actor_org_id=licensing.orgs.integrator)
        await uow.commit()
    settings = infrastructure.settings(service_name="transfers")
    relay = OutboxRelay(service="transfers", engine=transfers_engine, amqp_url=settings.amqp_url,
                        exchange_name=settings.events_exchange, poll_interval=0.1)
    relaying = asyncio.create_task(relay.run())
    try:
        async def received() -> bool:
            response = await api.get(f"/api/v1/entitlements/{entitlement_id}", headers=licensing.customer)
            return response.status_code == 200 and response.json()["total_available"] == 3

        await eventually(received)
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await transfers_engine.dispose()

    [completed] = await licensing.events("entitlements.transfer.completed", transfer_id=str(request.transfer_id))
    assert completed["payload"]["quantity"] == 3 and completed["payload"]["action"] == "split"
    assert (await licensing.activate(entitlement_id, camera, 3)).status_code == 201
    assert (await licensing.activate(entitlement_id, camera, 1)).status_code == 409
    await licensing.conserved()
