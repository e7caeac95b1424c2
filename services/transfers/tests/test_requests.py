"""Requesting a transfer: 202 pending at once, the request and its TransferRequested event in one
transaction, published by the outbox; the destination and the body checked before anything is
written."""

import asyncio
import json
import time
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from shared.events.orgs import OrganizationArchived, OrganizationCreated, RepresentativeInfo, RepresentativeRemoved
from shared.testing import eventually


def body(receiver, **overrides) -> dict:
    values = {
        "entitlement_id": "ENT-2026-000042",
        "product_id": str(uuid.uuid4()),
        "quantity": 30,
        "to_org_id": str(receiver.id),
        "cc_emails": ["customer@buyer.example"],
    }
    values.update(overrides)
    return values


async def counts(app) -> tuple[int, int]:
    async with app.state.engine.connect() as conn:
        transfers = (await conn.execute(sa.text("SELECT count(*) FROM transfers"))).scalar_one()
        events = (
            await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE routing_key = 'transfers.transfer.requested'"))
        ).scalar_one()
    return transfers, events


async def test_a_request_is_accepted_pending_and_its_event_is_published(app, api, broker, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    user = uuid.uuid4()
    queue = await broker.declare_queue(exclusive=True)
    await queue.bind(await broker.get_exchange("licensing.events"), routing_key="transfers.transfer.requested")

    request = body(receiver)
    response = await api.post("/api/v1/transfers", json=request, headers=signed_in(sender.id, user=user))

    assert response.status_code == 202, response.text
    transfer_id = response.json()["id"]
    assert response.json() == {"id": transfer_id, "status": "pending"}
    assert response.headers["location"] == f"/api/v1/transfers/{transfer_id}"
    shown = (await api.get(response.headers["location"], headers=signed_in(sender.id))).json()
    assert shown["status"] == "pending" and shown["quantity_requested"] == 30 and shown["quantity"] is None
    assert shown["direction"] == "sent" and shown["to_org_id"] == str(receiver.id)

    async def published():
        message = await queue.get(no_ack=True, fail=False)
        return json.loads(message.body) if message else None

    envelope = await eventually(published)
    assert envelope["type"] == "transfers.transfer.requested"
    assert envelope["visible_to"] == [str(sender.id)]
    assert envelope["actor_org_id"] == str(sender.id) and envelope["actor_user_id"] == str(user)
    assert envelope["payload"] == {
        "transfer_id": transfer_id,
        "from_org_id": str(sender.id),
        "to_org_id": str(receiver.id),
        "entitlement_id": "ENT-2026-000042",
        "product_id": request["product_id"],
        "quantity": 30,
        "requested_by": str(user),
        "notify_representative": receiver.default_representative.email,
        "cc_emails": ["customer@buyer.example"],
    }


async def test_without_a_quantity_all_available_licenses_are_asked_for(api, broker, directory, signed_in, stored):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    request = body(receiver)
    del request["quantity"]
    response = await api.post("/api/v1/transfers", json=request, headers=signed_in(sender.id))
    assert response.status_code == 202, response.text
    row = await stored(uuid.UUID(response.json()["id"]))
    assert row["quantity_requested"] is None and row["status"] == "pending"


async def test_the_chosen_representative_is_told_or_nobody_when_the_sender_says_so(
    api, app, directory, signed_in, stored
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender, representatives=3)
    chosen = receiver.representatives[2]

    picked = await api.post(
        "/api/v1/transfers", json=body(receiver, representative_id=str(chosen.representative_id)),
        headers=signed_in(sender.id),
    )
    silent = await api.post(
        "/api/v1/transfers", json=body(receiver, notify_representative=False), headers=signed_in(sender.id)
    )

    assert (await stored(uuid.UUID(picked.json()["id"])))["notify_representative"] == chosen.email
    declined = await stored(uuid.UUID(silent.json()["id"]))
    # Nobody is mailed: not the representative, and not the CCs, which copy the representative's mail.
    assert declined["notify_representative"] is None and declined["cc_emails"] == []


async def test_the_transfer_keeps_the_representatives_as_they_were_and_the_senders_note(
    api, apply, directory, signed_in
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender, representatives=2)
    chosen = receiver.representatives[1]
    response = await api.post("/api/v1/transfers", json=body(
        receiver, representative_id=str(chosen.representative_id), note="For the harbour project"),
        headers=signed_in(sender.id))
    assert response.status_code == 202, response.text
    # The directory changes afterwards: the transfer still shows whom it was sent to.
    await apply(RepresentativeRemoved(org_id=receiver.id, representative_id=chosen.representative_id,
                                      email=chosen.email))

    shown = (await api.get(response.headers["location"], headers=signed_in(sender.id))).json()

    assert shown["note"] == "For the harbour project"
    assert shown["cc_emails"] == ["customer@buyer.example"]
    assert shown["representatives"] == [
        {"email": rep.email, "first_name": rep.first_name, "last_name": rep.last_name, "is_default": rep.is_default,
         "notified": rep == chosen}
        for rep in receiver.representatives
    ]


async def test_an_archived_org_makes_no_outgoing_transfer(app, api, directory, signed_in):
    distributor = await directory.distributor()
    integrator = await directory.integrator(distributor, name="Dormant Partner")
    customer = await directory.integrator(integrator, name="Its Customer")
    await directory.archive(integrator, distributor)
    before = await counts(app)

    refused = await api.post("/api/v1/transfers", json=body(customer), headers=signed_in(integrator.id, tier="integrator"))

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == "Dormant Partner is archived and makes no transfers."
    assert await counts(app) == before
    await directory.unarchive(integrator, distributor)
    allowed = await api.post("/api/v1/transfers", json=body(customer), headers=signed_in(integrator.id, tier="integrator"))
    assert allowed.status_code == 202, allowed.text


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -5}, "quantity"),
        ({"quantity": 1_000_000_001}, "quantity"),
        ({"quantity": "lots"}, "quantity"),
        ({"product_id": "not-a-uuid"}, "product_id"),
        ({"to_org_id": None}, "to_org_id"),
        ({"entitlement_id": ""}, "entitlement_id"),
        ({"cc_emails": ["not an email"]}, "cc_emails"),
        ({"cc_emails": [f"c{i}@buyer.example" for i in range(11)]}, "cc_emails"),
        ({"status": "completed"}, "status"),
        ({"from_org_id": str(uuid.uuid4())}, "from_org_id"),
    ],
)
async def test_a_bad_body_is_refused_with_the_reason_and_nothing_is_written(
    app, api, directory, signed_in, change, complaint
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    before = await counts(app)

    response = await api.post("/api/v1/transfers", json=body(receiver, **change), headers=signed_in(sender.id))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert complaint in response.json()["detail"]
    assert await counts(app) == before


async def test_a_destination_that_is_not_the_senders_child_is_refused_alike_whether_it_exists_or_not(
    app, api, directory, signed_in
):
    sender = await directory.distributor()
    other_distributor = await directory.distributor("Other")
    others_integrator = await directory.integrator(other_distributor)
    before = await counts(app)

    foreign = await api.post("/api/v1/transfers", json=body(others_integrator), headers=signed_in(sender.id))
    unknown = await api.post(
        "/api/v1/transfers", json=body(others_integrator, to_org_id=str(uuid.uuid4())), headers=signed_in(sender.id)
    )

    for response in (foreign, unknown):
        assert response.status_code == 409, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["detail"].startswith("The destination is not one of your integrators or customers")
    assert foreign.json() == unknown.json()
    assert await counts(app) == before


async def test_a_transfer_to_an_integrator_created_a_moment_ago_waits_for_it(api, apply, directory, signed_in):
    """An API client creates an integrator and transfers to it at once: the org reaches this
    service over the bus a moment later; the request waits for it instead of refusing it."""
    sender = await directory.distributor()
    fresh = SimpleNamespace(id=uuid.uuid4())

    asked = asyncio.create_task(api.post("/api/v1/transfers", json=body(fresh), headers=signed_in(sender.id)))
    await asyncio.sleep(0.3)
    assert not asked.done()
    await apply(OrganizationCreated(
        org_id=fresh.id, name="Just Created", tier="integrator", parent_id=sender.id,
        representatives=[RepresentativeInfo(representative_id=uuid.uuid4(), email="rep@just.example", is_default=True)],
    ))
    response = await asked

    assert response.status_code == 202, response.text
    shown = await api.get(response.headers["location"], headers=signed_in(sender.id))
    assert shown.json()["notify_representative"] == "rep@just.example"


async def test_an_org_still_unknown_after_the_wait_gets_409_with_retry_after(app, api, directory, signed_in):
    sender = await directory.distributor()
    started = time.monotonic()

    response = await api.post("/api/v1/transfers", json=body(SimpleNamespace(id=uuid.uuid4())),
                              headers=signed_in(sender.id))

    waited = time.monotonic() - started
    assert response.status_code == 409 and response.headers["retry-after"] == "1"
    assert "retry shortly" in response.json()["detail"]
    assert app.state.settings.destination_wait_seconds <= waited < app.state.settings.destination_wait_seconds + 2


async def test_an_archived_destination_receives_no_transfer(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender, name="Sleepy Systems")
    await directory.archive(receiver, sender)
    before = await counts(app)

    response = await api.post("/api/v1/transfers", json=body(receiver), headers=signed_in(sender.id))

    assert response.status_code == 409, response.text
    assert response.json()["detail"] == "Sleepy Systems is archived and receives no transfers."
    assert await counts(app) == before


async def test_a_representative_of_another_org_is_refused(app, api, directory, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    elsewhere = await directory.integrator(sender, name="Elsewhere Ltd")
    before = await counts(app)

    response = await api.post(
        "/api/v1/transfers",
        json=body(receiver, representative_id=str(elsewhere.default_representative.representative_id)),
        headers=signed_in(sender.id),
    )

    assert response.status_code == 422, response.text
    assert "not one of the destination's representatives" in response.json()["detail"]
    assert await counts(app) == before


@pytest.mark.parametrize("role", ["viewer", "auditor", "technician", "support"])
async def test_only_admins_and_project_managers_transfer(api, directory, signed_in, role):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)

    refused = await api.post("/api/v1/transfers", json=body(receiver), headers=signed_in(sender.id, role=role))
    allowed = await api.post(
        "/api/v1/transfers", json=body(receiver), headers=signed_in(sender.id, role="project_manager")
    )

    assert refused.status_code == 403
    assert allowed.status_code == 202


async def test_without_a_token_nothing_happens(api, directory):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    assert (await api.post("/api/v1/transfers", json=body(receiver))).status_code == 401


async def test_the_org_directory_follows_the_orgs_events_on_the_bus(app, api, directory, publish, signed_in):
    sender = await directory.distributor()
    created = OrganizationCreated(
        org_id=uuid.uuid4(), name="Fresh Partner", tier="integrator", parent_id=sender.id,
        representatives=[RepresentativeInfo(representative_id=uuid.uuid4(), email="rep@fresh.example", is_default=True)],
    )
    request = body(SimpleNamespace(id=created.org_id))

    async def directory_status():
        async with app.state.engine.connect() as conn:
            query = sa.text("SELECT status FROM org_directory WHERE id = :id")
            return (await conn.execute(query, {"id": created.org_id})).scalar_one_or_none()

    await publish(created)
    await eventually(lambda: _equals(directory_status(), "active"))
    accepted = await api.post("/api/v1/transfers", json=request, headers=signed_in(sender.id))
    assert accepted.status_code == 202
    shown = await api.get(accepted.headers["location"], headers=signed_in(sender.id))
    assert shown.json()["notify_representative"] == "rep@fresh.example"

    await publish(OrganizationArchived(org_id=created.org_id, name="Fresh Partner", tier="integrator",
                                       parent_id=sender.id))
    await eventually(lambda: _equals(directory_status(), "archived"))
    refused = await api.post("/api/v1/transfers", json=request, headers=signed_in(sender.id))
    assert refused.status_code == 409


async def _equals(value_awaitable, expected):
    return await value_awaitable == expected


def raw(receiver, **overrides) -> bytes:
    return json.dumps(body(receiver, **overrides)).encode()


# Coerced values are a 422 naming the field; a body that is not one JSON reading (repeated keys,
# not UTF-8, too deep, numbers out of range) is a 400 saying why.
@pytest.mark.parametrize("make, status, complaint", [
    (lambda r: raw(r, quantity="2"), 422, "quantity"),
    (lambda r: raw(r, quantity=True), 422, "quantity"),
    (lambda r: raw(r, quantity=2.5), 422, "quantity"),
    (lambda r: raw(r, notify_representative="false"), 422, "notify_representative"),
    (lambda r: raw(r, notify_representative=0), 422, "notify_representative"),
    (lambda r: raw(r, to_org_id="{" + str(r.id) + "}"), 422, "to_org_id"),
    (lambda r: raw(r, to_org_id=str(r.id).replace("-", "")), 422, "to_org_id"),
    (lambda r: raw(r, quantity=1)[:-1] + b', "quantity": 500}', 400, "the key 'quantity' appears more than once"),
    (lambda r: raw(r)[:-1] + b', "cc_emails": [{"a": 1, "a": 2}]}', 400, "the key 'a' appears more than once"),
    (lambda r: raw(r)[:-1] + b', "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested too deeply"),
    (lambda r: raw(r)[:-1] + b', "extra": "\xff\xfe"}', 400, "not UTF-8"),
    (lambda r: raw(r)[:-1] + b', "extra": ' + b"9" * 5001 + b"}", 400, "more than 20 digits"),
    (lambda r: raw(r)[:-1] + b', "extra": 1e5000}', 400, "too large"),
    (lambda r: raw(r)[:-1] + b', "extra": NaN}', 400, "NaN is not a JSON value"),
], ids=["quantity-string", "quantity-true", "quantity-float", "flag-string", "flag-number", "id-braces", "id-bare",
        "repeated-key", "repeated-nested-key", "deep-nesting", "invalid-utf8", "5001-digits", "huge-float", "nan"])
async def test_a_body_is_taken_only_as_json_writes_it(app, api, directory, signed_in, make, status, complaint):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    before = await counts(app)

    response = await api.post("/api/v1/transfers", content=make(receiver),
                              headers={**signed_in(sender.id), "Content-Type": "application/json"})

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert complaint in response.json()["detail"]
    assert await counts(app) == before
    # The same body, well formed, is taken.
    assert (await api.post("/api/v1/transfers", content=raw(receiver),
                           headers={**signed_in(sender.id), "Content-Type": "application/json"})).status_code == 202
