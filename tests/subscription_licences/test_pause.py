"""Pause and resume: the devices are told (events with the activation), paused days are not billed,
a resume date resumes by itself."""

from datetime import date, timedelta

import sqlalchemy as sa

from billing.handlers import run_lifecycle, today
from billing.lifecycle import lifecycle_pass
from shared.db import UnitOfWork
from shared.testing import eventually


async def _events(console, routing_key: str, subscription_id: str) -> list[dict]:
    async with console.billing_app.state.engine.connect() as conn:
        return (await conn.execute(sa.text(
            "SELECT body -> 'payload' FROM outbox WHERE routing_key = :key AND body -> 'payload' ->> 'subscription_id' = :id"
            " ORDER BY id"), {"key": routing_key, "id": subscription_id})).scalars().all()


async def _assigned(console, quantity: int = 5) -> dict:
    licence = await console.licence(await console.holding(quantity), quantity,
                                    plan=await console.plan("10.00"), customer_org_id=str(console.orgs.customer))

    async def activated():
        answer = (await console.billing.get(f"/api/v1/subscriptions/{licence['id']}", headers=console.integrator)).json()
        return answer if answer["activated_at"] else None
    return await eventually(activated)


async def test_pause_tells_the_devices_and_resume_restores(console):
    licence = await _assigned(console)
    paused = await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator,
                                        json={})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert (await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator,
                                       json={})).status_code == 409
    resumed = await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/resume", headers=console.integrator)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    (pause_event,) = await _events(console, "billing.subscription.paused", licence["id"])
    (resume_event,) = await _events(console, "billing.subscription.resumed", licence["id"])
    async with console.entitlements_app.state.engine.connect() as conn:
        activation_id = await conn.scalar(sa.text("SELECT activation_id FROM reservations WHERE subscription_id = :id"),
                                          {"id": licence["id"]})
    assert pause_event["activation_id"] == resume_event["activation_id"] == str(activation_id)


async def test_a_pause_before_the_activation_is_known_reaches_the_devices_once_it_is(console):
    """Paused at once, before the ledger's conversion reached billing: its first pause names no
    activation (the devices cannot act on it), so the conversion tells them again, with it."""
    licence = await console.licence(await console.holding(5), 5, plan=await console.plan("10.00"),
                                    customer_org_id=str(console.orgs.customer))
    paused = await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator,
                                        json={})
    assert paused.status_code == 200, paused.text

    async def told_with_the_activation():
        events = await _events(console, "billing.subscription.paused", licence["id"])
        return [e for e in events if e["activation_id"]]

    (event,) = await eventually(told_with_the_activation)
    async with console.entitlements_app.state.engine.connect() as conn:
        activation_id = await conn.scalar(sa.text("SELECT activation_id FROM reservations WHERE subscription_id = :id"),
                                          {"id": licence["id"]})
    assert event["activation_id"] == str(activation_id)


async def test_paused_days_are_excluded_from_what_the_period_bills(console):
    licence = await _assigned(console)
    start = today() - timedelta(days=10)
    async with console.billing_app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE subscriptions SET period_start = :start, period_end = :end WHERE id = :id"),
                           {"start": start, "end": start + timedelta(days=30), "id": licence["id"]})
    await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator)
    async with console.billing_app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE subscription_pauses SET started_on = :on WHERE subscription_id = :id"),
                           {"on": today() - timedelta(days=6), "id": licence["id"]})
    await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/resume", headers=console.integrator)
    invoice = (await console.billing.post("/api/v1/invoices", headers=console.integrator,
                                          json={"subscription_ids": [licence["id"]]})).json()["items"][0]
    (line,) = invoice["lines"]
    assert line["paused_days"] == 6
    assert invoice["total"] == "40.00"  # 5 x 10.00 for 24 of 30 days


async def test_a_resume_date_resumes_the_licence_that_day(console):
    licence = await _assigned(console)
    tomorrow = today() + timedelta(days=1)
    paused = await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator,
                                        json={"resume_on": tomorrow.isoformat()})
    assert paused.json()["resume_on"] == tomorrow.isoformat()
    await lifecycle_pass(console.billing_app)  # today: still paused
    assert (await console.billing.get(f"/api/v1/subscriptions/{licence['id']}",
                                      headers=console.integrator)).json()["status"] == "paused"
    async with UnitOfWork(console.billing_app.state.session_factory, producer="billing") as uow:
        await run_lifecycle(uow, tomorrow)
        await uow.commit()
    assert (await console.billing.get(f"/api/v1/subscriptions/{licence['id']}",
                                      headers=console.integrator)).json()["status"] != "paused"
    assert await _events(console, "billing.subscription.resumed", licence["id"])


async def test_a_resume_date_in_the_past_is_refused(console):
    licence = await _assigned(console)
    response = await console.billing.post(f"/api/v1/subscriptions/{licence['id']}/pause", headers=console.integrator,
                                          json={"resume_on": date(2020, 1, 1).isoformat()})
    assert response.status_code == 422
