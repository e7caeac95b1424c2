"""The expiry sweeper: entitlements past their date become expired and their holders are told
once; "expiring soon" goes out once per threshold (30, 7, 1 days), whatever the replicas."""

import asyncio
from datetime import date, timedelta

import sqlalchemy as sa

from entitlements.expiry import sweep
from entitlements.ledger import today
from entitlements.main import create_app
from shared.testing import eventually, running


async def sweeps(app, on: date, replicas: int = 3) -> None:
    """Several sweeps at once, as replicas would run them."""
    await asyncio.gather(*(sweep(app.state.session_factory, on=on) for _ in range(replicas)))


async def stored_status(app, entitlement_id: str) -> str:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT status FROM entitlements WHERE id = :id"),
                                   {"id": entitlement_id})).scalar_one()


async def test_an_entitlement_past_its_date_is_marked_expired_and_every_holder_is_told_once(app, licensing):
    camera = await licensing.product()
    expired_on = today()  # its last valid day: the licenses can still move down the tiers
    entitlement_id = (await licensing.issue([(camera, 6)], order_date=str(expired_on - timedelta(days=90)),
                                            expiration_date=str(expired_on)))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 2)
    await sweeps(app, expired_on)
    assert await stored_status(app, entitlement_id) == "active"
    await sweeps(app, expired_on + timedelta(days=1))
    await sweeps(app, expired_on + timedelta(days=1))
    assert await stored_status(app, entitlement_id) == "expired"
    [event] = await licensing.events("entitlements.entitlement.expired", entitlement_id=entitlement_id)
    holders = {str(o) for o in (licensing.orgs.distributor, licensing.orgs.integrator, licensing.orgs.customer)}
    assert set(event["visible_to"]) == holders == set(event["payload"]["holder_org_ids"])
    assert event["payload"]["expiration_date"] == str(expired_on)
    await licensing.conserved()


async def test_expiring_soon_is_sent_once_per_threshold(app, licensing):
    camera = await licensing.product()
    expires = today() + timedelta(days=400)
    entitlement_id = (await licensing.issue([(camera, 1)], order_date=str(today()),
                                            expiration_date=str(expires)))["entitlement_id"]

    async def days_left_sent() -> list[int]:
        events = await licensing.events("entitlements.entitlement.expiring_soon", entitlement_id=entitlement_id)
        return [e["payload"]["days_left"] for e in events]

    await sweeps(app, expires - timedelta(days=31))
    assert await days_left_sent() == []
    await sweeps(app, expires - timedelta(days=30))
    await sweeps(app, expires - timedelta(days=29))
    assert await days_left_sent() == [30]
    await sweeps(app, expires - timedelta(days=5))  # the 7-day notice, late: one notice covers it
    await sweeps(app, expires - timedelta(days=2))
    assert await days_left_sent() == [30, 5]
    await sweeps(app, expires - timedelta(days=1))
    await sweeps(app, expires)
    assert await days_left_sent() == [30, 5, 1]
    [event] = await licensing.events("entitlements.entitlement.expiring_soon", entitlement_id=entitlement_id,
                                     days_left=1)
    assert event["visible_to"] == [str(licensing.orgs.distributor)]
    assert await stored_status(app, entitlement_id) == "active"
    await sweeps(app, expires + timedelta(days=1))
    assert await stored_status(app, entitlement_id) == "expired"
    assert len(await licensing.events("entitlements.entitlement.expired", entitlement_id=entitlement_id)) == 1
    await licensing.conserved()


async def test_two_replicas_running_the_worker_send_each_event_once(settings, licensing):
    camera = await licensing.product()
    gone = (await licensing.issued_in_the_past([(camera, 1)], order_date=str(today() - timedelta(days=10)),
                                               expired_on=today() - timedelta(days=1)))["entitlement_id"]
    soon = (await licensing.issue([(camera, 1)], order_date=str(today()),
                                  expiration_date=str(today() + timedelta(days=1))))["entitlement_id"]
    fast = settings.model_copy(update={"expiry_check_interval": 0.05})
    first, second = create_app(fast), create_app(fast)
    async with running(first), running(second):
        async def both_sent() -> bool:
            return bool(await licensing.events("entitlements.entitlement.expired", entitlement_id=gone)
                        and await licensing.events("entitlements.entitlement.expiring_soon", entitlement_id=soon))

        await eventually(both_sent)
        await asyncio.sleep(0.5)  # ten more passes of each worker
    assert len(await licensing.events("entitlements.entitlement.expired", entitlement_id=gone)) == 1
    [notice] = await licensing.events("entitlements.entitlement.expiring_soon", entitlement_id=soon)
    assert notice["payload"]["days_left"] == 1
    await licensing.conserved()
