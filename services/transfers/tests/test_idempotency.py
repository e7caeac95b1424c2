"""Idempotency-Key on POST /api/v1/transfers: a retried request moves licenses once."""

import asyncio
import uuid

import sqlalchemy as sa


async def transfers_and_events(app, sender) -> tuple[int, int]:
    async with app.state.engine.connect() as conn:
        transfers = (
            await conn.execute(sa.text("SELECT count(*) FROM transfers WHERE from_org_id = :o"), {"o": sender.id})
        ).scalar_one()
        events = (
            await conn.execute(
                sa.text("SELECT count(*) FROM outbox WHERE body->'payload'->>'from_org_id' = :o"), {"o": str(sender.id)}
            )
        ).scalar_one()
    return transfers, events


def request_body(receiver, quantity: int = 10) -> dict:
    return {"entitlement_id": "ENT-2026-000001", "product_id": "6f1c1f3e-0000-4000-8000-000000000001",
            "quantity": quantity, "to_org_id": str(receiver.id)}


async def test_the_same_key_and_body_give_the_same_transfer_once(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    headers = signed_in(sender.id, user=uuid.uuid4()) | {"Idempotency-Key": "retry-1"}

    first = await api.post("/api/v1/transfers", json=request_body(receiver), headers=headers)
    again = await api.post("/api/v1/transfers", json=request_body(receiver), headers=headers)

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert await transfers_and_events(app, sender) == (1, 1)


async def test_the_same_key_with_another_body_is_refused(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    headers = signed_in(sender.id, user=uuid.uuid4()) | {"Idempotency-Key": "retry-2"}

    await api.post("/api/v1/transfers", json=request_body(receiver, 10), headers=headers)
    changed = await api.post("/api/v1/transfers", json=request_body(receiver, 11), headers=headers)

    assert changed.status_code == 422
    assert "different request body" in changed.json()["detail"]
    assert await transfers_and_events(app, sender) == (1, 1)


async def test_concurrent_requests_with_one_key_create_one_transfer(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    headers = signed_in(sender.id, user=uuid.uuid4()) | {"Idempotency-Key": "double-click"}

    answers = await asyncio.gather(
        *(api.post("/api/v1/transfers", json=request_body(receiver), headers=headers) for _ in range(5))
    )

    assert [a.status_code for a in answers] == [202] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    assert await transfers_and_events(app, sender) == (1, 1)


async def test_a_key_is_the_callers_own(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    key = {"Idempotency-Key": "shared-key"}

    mine = await api.post("/api/v1/transfers", json=request_body(receiver), headers=signed_in(sender.id) | key)
    colleagues = await api.post("/api/v1/transfers", json=request_body(receiver), headers=signed_in(sender.id) | key)

    assert mine.json()["id"] != colleagues.json()["id"]
    assert await transfers_and_events(app, sender) == (2, 2)


async def test_a_refused_request_does_not_use_up_its_key(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    headers = signed_in(sender.id, user=uuid.uuid4()) | {"Idempotency-Key": "after-archive"}
    await directory.archive(receiver, sender)

    refused = await api.post("/api/v1/transfers", json=request_body(receiver), headers=headers)
    other = await directory.integrator(sender, name="Other Partner")
    accepted = await api.post("/api/v1/transfers", json=request_body(other), headers=headers)

    assert refused.status_code == 409
    assert accepted.status_code == 202
    assert await transfers_and_events(app, sender) == (1, 1)
