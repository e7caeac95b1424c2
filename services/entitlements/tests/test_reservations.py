"""Subscription licences in the ledger, as the seller and its customer see them: the entries of
their histories, the reserved figure of the products tab (what every org received is what it has
available, transferred, activated and reserved), the customer's subscription activation that only
the seller ends, reservations racing transfers and activations on one holding, and the
conservation check seeing reservations.

Billing's requests are applied as the consumer applies them, one unit of work each."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.ledger import apply_transfer, unconserved_lines
from entitlements.reservations import reservation_requested, subscription_assigned, subscription_deleted
from shared.db import UnitOfWork
from shared.events.billing import SubscriptionAssigned, SubscriptionDeleted, SubscriptionReservationRequested
from shared.events.entitlements import TransferCompleted
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested

LEDGER, PRODUCTS = "/api/v1/licenses/ledger", "/api/v1/licenses/products"


class Seller:
    """The integrator selling subscription licences out of its holding of one line."""

    def __init__(self, licensing, entitlement_id: str, product: dict):
        self.licensing, self.entitlement_id, self.product = licensing, entitlement_id, product
        self.orgs = licensing.orgs

    async def _apply(self, handler, event) -> None:
        envelope = Envelope.wrap(event, producer="billing", actor_org_id=self.orgs.integrator)
        async with UnitOfWork(self.licensing.app.state.session_factory, producer="entitlements") as uow:
            await handler(uow, envelope)
            await uow.commit()

    async def reserve(self, quantity: int, *, name: str = "Lobby screens", to_customer: bool = False) -> uuid.UUID:
        subscription_id = uuid.uuid4()
        await self._apply(reservation_requested, SubscriptionReservationRequested(
            subscription_id=subscription_id, seller_org_id=self.orgs.integrator, entitlement_id=self.entitlement_id,
            product_id=self.product["id"], quantity=quantity, name=name,
            customer_org_id=self.orgs.customer if to_customer else None))
        return subscription_id

    async def assign(self, subscription_id: uuid.UUID, quantity: int) -> None:
        await self._apply(subscription_assigned, SubscriptionAssigned(
            subscription_id=subscription_id, seller_org_id=self.orgs.integrator, customer_org_id=self.orgs.customer,
            quantity=quantity, name="Lobby screens", via="claim_code"))

    async def delete(self, subscription_id: uuid.UUID, quantity: int) -> None:
        await self._apply(subscription_deleted, SubscriptionDeleted(
            subscription_id=subscription_id, seller_org_id=self.orgs.integrator, quantity=quantity))

    async def transfer_to_customer(self, quantity: int) -> bool:
        request = TransferRequested(transfer_id=uuid.uuid4(), from_org_id=self.orgs.integrator,
                                    to_org_id=self.orgs.customer, entitlement_id=self.entitlement_id,
                                    product_id=self.product["id"], quantity=quantity)
        async with UnitOfWork(self.licensing.app.state.session_factory, producer="entitlements") as uow:
            outcome = await apply_transfer(uow, request)
            await uow.commit()
        return isinstance(outcome, TransferCompleted)

    async def reservation(self, subscription_id: uuid.UUID) -> dict | None:
        async with self.licensing.app.state.engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT * FROM reservations WHERE subscription_id = :id"),
                                      {"id": subscription_id})).mappings().first()
        return None if row is None else dict(row)


@pytest.fixture
async def seller(licensing) -> Seller:
    """The integrator holds 20 Screens of a new entitlement."""
    screen = await licensing.product("Screen", "subscription")
    entitlement_id = (await licensing.issue([(screen, 20)]))["entitlement_id"]
    await licensing.transfer(entitlement_id, screen, licensing.orgs.distributor, licensing.orgs.integrator, 20)
    return Seller(licensing, entitlement_id, screen)


def ledger_of(seller: Seller, **params) -> dict:
    return {"entitlement_id": seller.entitlement_id, "product_id": seller.product["id"], "order": "asc", **params}


async def test_the_ledgers_show_reservations_their_release_and_the_customers_subscription(pages, api, seller):
    licensing = seller.licensing
    redeemed = await seller.reserve(5)
    deleted = await seller.reserve(3)
    await seller.delete(deleted, 3)
    await seller.assign(redeemed, 5)
    direct = await seller.reserve(2, to_customer=True)

    mine = await pages(LEDGER, licensing.integrator, **ledger_of(seller))
    assert [(e["kind"], e["quantity"], e["available_after"], e["subscription_id"]) for e in mine] == [
        ("transfer_in", 20, 20, None), ("reservation", -5, 15, str(redeemed)), ("reservation", -3, 12, str(deleted)),
        ("reservation_release", 3, 15, str(deleted)), ("reservation", -2, 13, str(direct))]
    for kind, expected in (("reservation", [redeemed, deleted, direct]), ("reservation_release", [deleted])):
        filtered = await pages(LEDGER, licensing.integrator, **ledger_of(seller, kind=kind))
        assert [e["subscription_id"] for e in filtered] == [str(s) for s in expected]

    # The customer received each licence from its seller, and it was activated at once.
    theirs = await pages(LEDGER, licensing.customer, **ledger_of(seller))
    activation_of = {s: (await seller.reservation(s))["activation_id"] for s in (redeemed, direct)}
    assert [(e["kind"], e["quantity"], e["available_after"], e["subscription_id"], e["activation_id"])
            for e in theirs] == [
        ("subscription_in", 5, 5, str(redeemed), None),
        ("activation", -5, 0, str(redeemed), str(activation_of[redeemed])),
        ("subscription_in", 2, 2, str(direct), None),
        ("activation", -2, 0, str(direct), str(activation_of[direct]))]
    integrator_name = theirs[0]["counterparty_name"]
    assert integrator_name and {e["counterparty_org_id"] for e in theirs if e["kind"] == "subscription_in"} == {
        str(licensing.orgs.integrator)}
    received = await pages(LEDGER, licensing.customer, **ledger_of(seller, kind="subscription_in"))
    assert [e["quantity"] for e in received] == [5, 2]

    unknown = await api.get(LEDGER, headers=licensing.integrator, params=ledger_of(seller, kind="reserved"))
    assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"


async def received_by(api, headers: dict, entitlement_id: str) -> dict:
    detail = await api.get(f"/api/v1/entitlements/{entitlement_id}", headers=headers)
    assert detail.status_code == 200, detail.text
    [line] = detail.json()["lines"]
    return line


async def test_the_products_tab_shows_what_is_reserved_and_every_orgs_totals_add_up(api, pages, seller):
    licensing = seller.licensing
    assert await seller.transfer_to_customer(4)
    unredeemed = await seller.reserve(5)
    await seller.assign(await seller.reserve(3), 3)
    assert (await licensing.activate(seller.entitlement_id, seller.product, 1)).status_code == 201

    figures = ("available", "transferred", "activated", "reserved")
    expected = [(licensing.integrator, (8, 4 + 3, 0, 5)), (licensing.customer, (3, 0, 1 + 3, 0)),
                (licensing.distributor, (0, 20, 0, 0))]
    for headers, quantities in expected:
        [product] = await pages(PRODUCTS, headers)
        [entitlement] = product["entitlements"]
        line = await received_by(api, headers, seller.entitlement_id)
        assert tuple(product[f] for f in figures) == tuple(entitlement[f] for f in figures) == quantities
        assert tuple(line[f] for f in figures) == quantities
        # What an org received is what it has available, passed on (transfers and subscription
        # licences become a customer's), activated, and holds reserved for subscription licences.
        assert line["received"] == sum(quantities)

    # The vendor sees the whole line: conservation itself.
    [line] = [p for p in await pages(PRODUCTS, licensing.vendor) if p["product_id"] == seller.product["id"]]
    assert (line["available"], line["activated"], line["reserved"]) == (8 + 3, 4, 5)
    assert line["available"] + line["activated"] + line["reserved"] == 20

    by_reserved = await api.get(PRODUCTS, headers=licensing.integrator, params={"sort": "reserved"})
    assert by_reserved.status_code == 200 and by_reserved.json()["items"][0]["reserved"] == 5

    await seller.delete(unredeemed, 5)
    [product] = await pages(PRODUCTS, licensing.integrator)
    assert tuple(product[f] for f in figures) == (13, 7, 0, 0)


async def activations_of(pages, licensing) -> dict[str, dict]:
    return {a["id"]: a for a in await pages("/api/v1/activations", licensing.customer)}


async def test_a_customer_cannot_deactivate_a_subscription_licence_its_seller_bills(api, pages, seller):
    licensing = seller.licensing
    subscription = await seller.reserve(3, name="Shop windows", to_customer=True)
    activation_id = str((await seller.reservation(subscription))["activation_id"])
    assert await seller.transfer_to_customer(2)
    own = await licensing.activate(seller.entitlement_id, seller.product, 2)
    assert own.status_code == 201
    before = await received_by(api, licensing.customer, seller.entitlement_id)

    refused = await api.post(f"/api/v1/activations/{activation_id}/deactivate", headers=licensing.customer)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["title"] == "subscription_licence"
    integrator_name = (await pages(LEDGER, licensing.customer, **ledger_of(seller)))[0]["counterparty_name"]
    assert "Shop windows" in problem["detail"] and f"Ask {integrator_name}" in problem["detail"]
    # Nothing changed: still active, the holding as it was, nobody told of a deactivation.
    listed = await activations_of(pages, licensing)
    assert (listed[activation_id]["status"], listed[activation_id]["subscription_id"]) == ("active", str(subscription))
    assert listed[own.json()["id"]]["subscription_id"] is None  # the customer's own: it may give it back
    assert await received_by(api, licensing.customer, seller.entitlement_id) == before
    assert await licensing.events("entitlements.activation.deactivated", activation_id=activation_id) == []
    assert (await seller.reservation(subscription))["status"] == "converted"

    # The customer's own activation of the same holding still goes back.
    given_back = await api.post(f"/api/v1/activations/{own.json()['id']}/deactivate", headers=licensing.customer)
    assert given_back.status_code == 200, given_back.text
    after = await received_by(api, licensing.customer, seller.entitlement_id)
    assert (after["available"], after["activated"]) == (2, 3)


async def test_reservations_racing_transfers_and_activations_on_one_holding_keep_the_books(pages, seller):
    """30 at once on the integrator's holding (16 left of its 20 once 4 went to the customer): 10
    reservations of 2 (half assigned to the customer at once) and 10 transfers of 2 to the customer
    ask for 40, while the customer activates 1 ten times from its holding, which those transfers
    and conversions change under it."""
    licensing = seller.licensing
    assert await seller.transfer_to_customer(4)
    outcomes = await asyncio.gather(
        *(seller.reserve(2, name=f"Set {n}", to_customer=n % 2 == 0) for n in range(10)),
        *(seller.transfer_to_customer(2) for _ in range(10)),
        *(licensing.activate(seller.entitlement_id, seller.product, 1, serial_number=f"SN-{n}") for n in range(10)),
    )
    subscription_ids, transferred, activated = outcomes[:10], outcomes[10:20], outcomes[20:]

    made = [r for s in subscription_ids if (r := await seller.reservation(s)) is not None]
    assert {a.status_code for a in activated} <= {201, 409}
    activations_ok, transfers_ok = sum(a.status_code == 201 for a in activated), sum(transferred)
    # Never more than held, never less: exactly 8 reservations and transfers of 2 got the 16.
    assert len(made) + transfers_ok == 16 // 2
    converted = sum(r["quantity"] for r in made if r["status"] == "converted")
    assert converted == 2 * sum(1 for r in made if r["customer_org_id"] is not None)

    [integrator] = await pages(PRODUCTS, licensing.integrator)
    assert (integrator["available"], integrator["reserved"]) == (0, 2 * len(made) - converted)
    assert integrator["transferred"] == 4 + 2 * transfers_ok + converted
    [customer] = await pages(PRODUCTS, licensing.customer)
    assert customer["available"] == 4 + 2 * transfers_ok - activations_ok >= 0
    assert customer["activated"] == activations_ok + converted
    await licensing.conserved()


async def test_the_conservation_check_counts_what_is_reserved(seller):
    """The check every test ends with is not blind to reservations: one the holding never paid for
    shows, and so does a reservation released without its quantity coming back."""
    subscription = await seller.reserve(5)
    engine = seller.licensing.app.state.engine

    async def broken_lines() -> list[tuple]:
        async with AsyncSession(engine) as session:
            broken = await unconserved_lines(session)
        return [(b["entitlement_id"], b["issued"], b["held"], b["reserved"]) for b in broken]

    async def set_status(status: str) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE reservations SET status = :status WHERE subscription_id = :id"),
                               {"status": status, "id": subscription})

    await set_status("released")
    assert await broken_lines() == [(seller.entitlement_id, 20, 15, 0)]
    await set_status("reserved")
    assert await broken_lines() == []
    async with engine.begin() as conn:  # a second licence out of thin air
        await conn.execute(sa.text(
            "INSERT INTO reservations (subscription_id, line_id, seller_org_id, quantity, name, status)"
            " SELECT :new, line_id, seller_org_id, 1, name, status FROM reservations WHERE subscription_id = :id"),
            {"new": uuid.uuid4(), "id": subscription})
    assert await broken_lines() == [(seller.entitlement_id, 20, 15, 6)]
    async with engine.begin() as conn:  # put it right for the checks after the test
        await conn.execute(sa.text("DELETE FROM reservations WHERE subscription_id <> :id AND line_id ="
                                   " (SELECT line_id FROM reservations WHERE subscription_id = :id)"),
                           {"id": subscription})
