"""The outcome of a transfer, as entitlements reports it over the bus, through the real consumer:
the sender sees it settle; the receiver sees it only once completed; anyone else never."""

import uuid
from datetime import UTC, datetime

import structlog.testing

from shared.testing import eventually


async def status_seen(api, headers, transfer_id):
    response = await api.get(f"/api/v1/transfers/{transfer_id}", headers=headers)
    return response.json().get("status") if response.status_code == 200 else response.status_code


async def test_a_completed_transfer_shows_what_moved_to_both_sides(
    api, directory, transfer, publish, outcome, signed_in
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    transfer_id = await transfer(sender, receiver, quantity=30)
    assert (await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(receiver.id))).status_code == 404

    envelope = await publish(
        outcome.completed(transfer_id, sender, receiver, quantity=30, action="split", po_number="PO-77",
                          sales_order="SO-9", product_name="Core", product_description="Core seats")
    )

    await eventually(lambda: _equals(status_seen(api, signed_in(sender.id), transfer_id), "completed"))
    shown = (await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(sender.id))).json()
    assert (shown["quantity"], shown["action"], shown["po_number"], shown["sales_order"]) == (30, "split", "PO-77", "SO-9")
    assert (shown["product_name"], shown["product_description"]) == ("Core", "Core seats")
    assert datetime.fromisoformat(shown["completed_at"]) == envelope.occurred_at
    assert shown["reason"] is None

    received = await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(receiver.id, role="viewer"))
    assert received.status_code == 200
    assert received.json()["direction"] == "received" and received.json()["quantity"] == 30
    assert received.json()["cc_emails"] == [] and received.json()["requested_by"] is None


async def test_a_rejected_transfer_shows_the_reason_to_the_sender_only(
    api, directory, transfer, publish, outcome, signed_in
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    transfer_id = await transfer(sender, receiver, quantity=500)

    await publish(outcome.rejected(transfer_id, sender, receiver, reason_code="insufficient_quantity",
                                   reason="Only 100 available; 500 requested."))

    await eventually(lambda: _equals(status_seen(api, signed_in(sender.id), transfer_id), "rejected"))
    shown = (await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(sender.id))).json()
    assert shown["reason_code"] == "insufficient_quantity"
    assert shown["reason"] == "Only 100 available; 500 requested."
    assert shown["quantity"] is None and shown["completed_at"] is None
    assert (await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(receiver.id))).status_code == 404


async def test_a_settled_transfer_keeps_its_first_outcome(api, directory, transfer, publish, outcome, signed_in, stored):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    transfer_id = await transfer(sender, receiver)
    first = outcome.completed(transfer_id, sender, receiver, quantity=12)
    await publish(first)
    await eventually(lambda: _equals(status_seen(api, signed_in(sender.id), transfer_id), "completed"))
    settled = await stored(transfer_id)

    await publish(first)  # a redelivery under a new event id (the inbox does not know it)
    await publish(outcome.rejected(transfer_id, sender, receiver))  # a late contradicting outcome
    marker = await transfer(sender, receiver)
    await publish(outcome.completed(marker, sender, receiver))
    await eventually(lambda: _equals(status_seen(api, signed_in(sender.id), marker), "completed"))

    assert await stored(transfer_id) == settled


async def test_an_outcome_for_an_unknown_transfer_is_ignored_and_the_consumer_goes_on(
    app, api, directory, transfer, publish, outcome, signed_in
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    await publish(outcome.completed(uuid.uuid4(), sender, receiver))
    transfer_id = await transfer(sender, receiver)
    await publish(outcome.completed(transfer_id, sender, receiver))
    await eventually(lambda: _equals(status_seen(api, signed_in(sender.id), transfer_id), "completed"))


async def test_another_org_never_sees_a_transfer(api, directory, transfer, apply, outcome, signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    stranger = await directory.distributor("Stranger")
    transfer_id = await transfer(sender, receiver)
    await apply(outcome.completed(transfer_id, sender, receiver), occurred_at=datetime.now(UTC))

    response = await api.get(f"/api/v1/transfers/{transfer_id}", headers=signed_in(stranger.id))
    assert response.status_code == 404
    assert response.json()["detail"] == f"No transfer with id {transfer_id}."
    listed = await api.get("/api/v1/transfers", headers=signed_in(stranger.id))
    assert listed.json()["items"] == []


async def test_the_sender_lists_its_requests_newest_first_by_status_page_by_page(
    api, directory, transfer, apply, outcome, signed_in
):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    ids = [await transfer(sender, receiver, quantity=i + 1) for i in range(5)]
    await apply(outcome.completed(ids[1], sender, receiver))
    await apply(outcome.rejected(ids[3], sender, receiver))

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/transfers", params=params, headers=signed_in(sender.id))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in reversed(ids)]

    pending = await api.get("/api/v1/transfers", params={"status": "pending"}, headers=signed_in(sender.id))
    assert [item["id"] for item in pending.json()["items"]] == [str(ids[4]), str(ids[2]), str(ids[0])]
    assert (await api.get("/api/v1/transfers", headers=signed_in(receiver.id))).json()["items"] == []


async def _equals(value_awaitable, expected):
    return await value_awaitable == expected


async def test_an_outcome_for_an_unknown_transfer_is_logged_as_a_warning(directory, apply, outcome):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    stray = uuid.uuid4()
    with structlog.testing.capture_logs() as logs:
        await apply(outcome.rejected(stray, sender, receiver))
    assert {"event": "outcome of an unknown transfer ignored", "log_level": "warning", "transfer_id": str(stray),
            "outcome": "rejected"}.items() <= next(e for e in logs if e.get("transfer_id") == str(stray)).items()
