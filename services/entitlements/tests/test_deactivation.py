"""Deactivating an activation: its quantity goes back to the customer's available licenses with an
`activation_reversal` ledger entry, once, whatever the retries and races; the books stay balanced."""

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from entitlements.ledger import today


async def activated(licensing, entitlement_id, camera, quantity: int, **fields) -> dict:
    response = await licensing.activate(entitlement_id, camera, quantity, **fields)
    assert response.status_code == 201, response.text
    return response.json()


async def deactivate(api, activation_id, headers):
    return await api.post(f"/api/v1/activations/{activation_id}/deactivate", headers=headers)


async def reversal_entries(app, activation_id) -> list[tuple]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(sa.text(
            "SELECT kind, quantity, available_after FROM ledger_entries WHERE activation_id = :id ORDER BY id"),
            {"id": activation_id})
        return [tuple(r) for r in rows]


async def test_deactivating_gives_the_quantity_back_with_a_reversal_entry(app, api, pages, licensing, held):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 3, project_name="Lobby", serial_number="SN-9")
    response = await deactivate(api, activation["id"], licensing.customer)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["id"], answer["status"], answer["quantity"]) == (activation["id"], "deactivated", 3)
    assert answer["deactivated_at"] is not None and answer["product_name"] == "Camera"

    line = await licensing.customer_line(entitlement_id)
    assert (line["received"], line["available"], line["activated"]) == (5, 5, 0)
    [product] = await pages("/api/v1/licenses/products", licensing.customer)
    assert (product["available"], product["activated"]) == (5, 0)
    assert await reversal_entries(app, uuid.UUID(activation["id"])) == [("activation", -3, 2),
                                                                        ("activation_reversal", 3, 5)]
    [listed] = await pages("/api/v1/activations", licensing.customer)
    assert (listed["status"], listed["deactivated_at"]) == ("deactivated", answer["deactivated_at"])

    [event] = await licensing.events("entitlements.activation.deactivated", activation_id=activation["id"])
    assert event["visible_to"] == [str(licensing.orgs.customer)]
    assert (event["payload"]["quantity"], event["payload"]["available_after"], event["payload"]["project_name"]) == (
        3, 5, "Lobby")
    # What came back can be activated again.
    assert (await licensing.activate(entitlement_id, camera, 5)).status_code == 201
    await licensing.conserved()


async def test_a_second_deactivation_is_refused_and_changes_nothing(app, api, licensing, held):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 2)
    assert (await deactivate(api, activation["id"], licensing.customer)).status_code == 200
    again = await deactivate(api, activation["id"], licensing.customer)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already deactivated" in again.json()["detail"] and again.json()["title"] == "already_deactivated"
    assert (await licensing.customer_line(entitlement_id))["available"] == 5
    assert len(await reversal_entries(app, uuid.UUID(activation["id"]))) == 2
    assert len(await licensing.events("entitlements.activation.deactivated", activation_id=activation["id"])) == 1
    await licensing.conserved()


async def test_an_idempotency_key_replays_the_deactivation_instead_of_refusing(api, licensing, held):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 2)
    headers = {**licensing.customer, "Idempotency-Key": f"retire-{uuid.uuid4()}"}
    first = await deactivate(api, activation["id"], headers)
    retry = await deactivate(api, activation["id"], headers)
    assert first.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    # Without the key (or with another one) it is a second request: refused.
    assert (await deactivate(api, activation["id"], licensing.customer)).status_code == 409
    assert (await licensing.customer_line(entitlement_id))["available"] == 5
    await licensing.conserved()


async def test_concurrent_deactivations_of_one_activation_return_it_once(app, api, licensing, held):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 4)
    answers = await asyncio.gather(*(deactivate(api, activation["id"], licensing.customer) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    line = await licensing.customer_line(entitlement_id)
    assert (line["available"], line["activated"]) == (5, 0)
    assert [kind for kind, _, _ in await reversal_entries(app, uuid.UUID(activation["id"]))] == [
        "activation", "activation_reversal"]
    await licensing.conserved()


async def test_deactivations_racing_activations_on_one_holding_keep_the_books(app, api, licensing, held):
    """All 5 licenses activated one by one, then each given back while new activations of 1 race
    for the holding: whatever the interleaving, nothing is created or lost."""
    entitlement_id, camera = held
    first = [await activated(licensing, entitlement_id, camera, 1, serial_number=f"SN-{i}") for i in range(5)]
    racing = await asyncio.gather(
        *(deactivate(api, a["id"], licensing.customer) for a in first),
        *(licensing.activate(entitlement_id, camera, 1, serial_number=f"SN-new-{i}") for i in range(8)),
    )
    deactivations, activations = racing[:5], racing[5:]
    assert [d.status_code for d in deactivations] == [200] * 5
    assert {a.status_code for a in activations} <= {201, 409}
    taken = sum(a.status_code == 201 for a in activations)
    assert 0 <= taken <= 5  # at most what came back
    line = await licensing.customer_line(entitlement_id)
    assert (line["available"], line["activated"]) == (5 - taken, taken)
    await licensing.conserved()


async def test_another_orgs_activation_is_not_found(app, api, licensing, held):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 2)
    neighbour = licensing.as_(await licensing.add_org("customer", licensing.orgs.integrator), "customer")
    for activation_id in (activation["id"], str(uuid.uuid4())):
        answer = await deactivate(api, activation_id, neighbour)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert (await deactivate(api, "not-a-uuid", licensing.customer)).status_code == 422
    assert (await licensing.customer_line(entitlement_id))["available"] == 3
    await licensing.conserved()


@pytest.mark.parametrize(("tier", "role"), [("customer", "viewer"), ("integrator", "project_manager"),
                                            ("integrator", "admin"), ("distributor", "admin")])
async def test_only_a_customers_admin_deactivates(app, api, licensing, held, tier, role):
    entitlement_id, camera = held
    activation = await activated(licensing, entitlement_id, camera, 2)
    org = {"customer": licensing.orgs.customer, "integrator": licensing.orgs.integrator,
           "distributor": licensing.orgs.distributor}[tier]
    answer = await deactivate(api, activation["id"], licensing.as_(org, tier, role))
    assert answer.status_code == 403
    assert (await licensing.customer_line(entitlement_id))["available"] == 3
    await licensing.conserved()


async def test_licenses_of_an_expired_entitlement_can_still_be_given_back(app, api, licensing):
    camera = await licensing.product()
    entitlement_id = (await licensing.issue([(camera, 4)], order_date=str(today() - timedelta(days=30)),
                                            expiration_date=str(today() + timedelta(days=10))))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 4)
    activation = await activated(licensing, entitlement_id, camera, 3)
    async with app.state.engine.begin() as conn:  # time passes: the order has run out
        await conn.execute(sa.text("UPDATE entitlements SET expiration_date = :d, status = 'expired' WHERE id = :id"),
                           {"d": today() - timedelta(days=1), "id": entitlement_id})
    assert (await deactivate(api, activation["id"], licensing.customer)).status_code == 200
    assert (await licensing.customer_line(entitlement_id))["available"] == 4
    # ...but they cannot be activated again while it is expired.
    assert (await licensing.activate(entitlement_id, camera, 1)).status_code == 409
    await licensing.conserved()


# Activations and deactivations in any order, some deactivations sent twice at once while an
# activation of 1 races them: after every step the customer's holding is what a simple model says,
# and every line balances.
step = st.one_of(
    st.tuples(st.just("activate"), st.integers(1, 4)),
    st.tuples(st.just("deactivate"), st.integers(0, 10)),  # which activation so far (modulo their number)
    st.tuples(st.just("race"), st.integers(0, 10)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=6))
async def test_any_sequence_of_activations_and_deactivations_keeps_the_books(api, licensing, steps):
    camera = await licensing.product("Camera")
    entitlement_id = (await licensing.issue([(camera, 8)]))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 6)
    available, made, active = 6, [], {}  # the model: what is available, every activation, the active ones

    def activation_made(answer, quantity: int) -> None:
        nonlocal available
        made.append(answer.json()["id"])
        active[answer.json()["id"]] = quantity
        available -= quantity

    for kind, number in steps:
        if kind == "activate":
            answer = await licensing.activate(entitlement_id, camera, number)
            assert answer.status_code == (201 if number <= available else 409), answer.text
            if answer.status_code == 201:
                activation_made(answer, number)
        elif made:
            chosen = made[number % len(made)]
            was_active, before = chosen in active, available
            if kind == "deactivate":
                deactivations, racer = [await deactivate(api, chosen, licensing.customer)], None
            else:
                *deactivations, racer = await asyncio.gather(
                    deactivate(api, chosen, licensing.customer), deactivate(api, chosen, licensing.customer),
                    licensing.activate(entitlement_id, camera, 1))
            codes = sorted(a.status_code for a in deactivations)
            assert codes == ([200] + [409] * (len(codes) - 1) if was_active else [409] * len(codes))
            if was_active:
                available += active.pop(chosen)
            if racer is not None:
                # With licenses available before, the racing activation must win; with none, it
                # wins only if the deactivation went first.
                assert racer.status_code in ((201,) if before >= 1 else (201, 409) if was_active else (409,))
                if racer.status_code == 201:
                    activation_made(racer, 1)
        line = await licensing.customer_line(entitlement_id)
        assert (line["available"], line["activated"]) == (available, sum(active.values()))
        await licensing.conserved()
