"""The ledger under load and repetition: transfers requested over the bus are applied once, never
overdraw a holding, and leave every line conserved (holdings + activations == issued)."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import aio_pika
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from entitlements.db import entitlement_lines, entitlements, holdings, ledger_entries, org_directory, outbox, products
from entitlements.ledger import (
    ActivationRequest, activate, apply_transfer, apply_transfers, change_holding, find_line, unconserved_lines)
from entitlements.main import create_app
from entitlements.settings import EntitlementsSettings
from shared.bus.topology import declare_topology
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.testing import eventually, running


@pytest.fixture
async def app(infrastructure):
    app = create_app(infrastructure.settings(EntitlementsSettings))
    async with running(app):
        yield app


@pytest.fixture
async def broker(infrastructure):
    connection = await aio_pika.connect_robust(infrastructure.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    yield await declare_topology(channel, "licensing.events")
    await connection.close()


class Books:
    """A small licensing tree on the entitlements database: vendor > distributor > integrator >
    customer, plus an archived integrator and an unrelated distributor; one entitlement line."""

    def __init__(self, app):
        self.app = app
        self.vendor, self.distributor, self.integrator, self.customer = (uuid.uuid4() for _ in range(4))
        self.archived, self.stranger = uuid.uuid4(), uuid.uuid4()
        self.product = uuid.uuid4()
        self.entitlement = f"ENT-TEST-{uuid.uuid4().hex[:10]}"

    async def open(self, quantity: int, expiration: date | None = None) -> "Books":
        now = datetime.now(UTC)
        orgs = [
            (self.vendor, "vendor", None, "active"), (self.distributor, "distributor", self.vendor, "active"),
            (self.integrator, "integrator", self.distributor, "active"),
            (self.customer, "customer", self.integrator, "active"),
            (self.archived, "integrator", self.distributor, "archived"),
            (self.stranger, "distributor", self.vendor, "active"),
        ]
        async with UnitOfWork(self.app.state.session_factory, producer="tests") as uow:
            session = uow.session
            await session.execute(sa.insert(org_directory), [
                dict(id=i, name=f"{tier} {str(i)[:4]}", tier=tier, parent_id=p, status=s, created_at=now, updated_at=now)
                for i, tier, p, s in orgs
            ])
            await session.execute(sa.insert(products).values(id=self.product, name="Edge Gateway", license_type="perpetual"))
            await session.execute(sa.insert(entitlements).values(
                id=self.entitlement, distributor_id=self.distributor, sales_order="SO-1", po_number="PO-1",
                order_date=date.today(), expiration_date=expiration))
            self.line = uuid.uuid4()
            await session.execute(sa.insert(entitlement_lines).values(
                id=self.line, entitlement_id=self.entitlement, product_id=self.product, quantity=quantity))
            await change_holding(session, line_id=self.line, org_id=self.distributor, delta=quantity, kind="issue")
            await uow.commit()
        return self

    def request(self, quantity: int | None, to_org: uuid.UUID | None = None, from_org: uuid.UUID | None = None):
        return TransferRequested(
            transfer_id=uuid.uuid4(), from_org_id=from_org or self.distributor, to_org_id=to_org or self.integrator,
            entitlement_id=self.entitlement, product_id=self.product, quantity=quantity,
        )

    async def available(self, org_id: uuid.UUID) -> int:
        async with self.app.state.engine.connect() as conn:
            value = await conn.scalar(
                sa.select(holdings.c.available).where(holdings.c.line_id == self.line, holdings.c.org_id == org_id))
        return value or 0

    async def outcomes(self, transfer_ids) -> dict[str, int]:
        """How many completed and rejected outcomes the service recorded for these transfers."""
        ids = [str(t) for t in transfer_ids]
        async with self.app.state.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.routing_key, sa.func.count())
                .where(outbox.c.body["payload"]["transfer_id"].astext.in_(ids))
                .group_by(outbox.c.routing_key))
        return {key.rsplit(".", 1)[-1]: n for key, n in rows}


async def assert_conserved(app) -> None:
    async with app.state.session_factory() as session:
        assert await unconserved_lines(session) == []


async def publish(exchange, request: TransferRequested, envelope: Envelope | None = None) -> Envelope:
    envelope = envelope or Envelope.wrap(request, producer="transfers", actor_org_id=request.from_org_id,
                                         visible_to=[request.from_org_id])
    await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
    return envelope


async def test_a_requested_split_moves_the_quantity_with_one_ledger_entry_per_side(app, broker):
    books = await Books(app).open(100)
    request = books.request(30)
    await publish(broker, request)
    await eventually(lambda: books.outcomes([request.transfer_id]))
    assert await books.outcomes([request.transfer_id]) == {"completed": 1}
    assert (await books.available(books.distributor), await books.available(books.integrator)) == (70, 30)
    async with app.state.engine.connect() as conn:
        entries = (await conn.execute(
            sa.select(ledger_entries.c.org_id, ledger_entries.c.kind, ledger_entries.c.quantity)
            .where(ledger_entries.c.transfer_id == request.transfer_id).order_by(ledger_entries.c.kind))).all()
    assert [tuple(e) for e in entries] == [(books.integrator, "transfer_in", 30), (books.distributor, "transfer_out", -30)]
    await assert_conserved(app)


async def test_a_transfer_without_quantity_moves_everything_available(app, broker):
    books = await Books(app).open(40)
    request = books.request(None)
    await publish(broker, request)
    await eventually(lambda: books.outcomes([request.transfer_id]))
    assert (await books.available(books.distributor), await books.available(books.integrator)) == (0, 40)
    await assert_conserved(app)


async def test_a_redelivered_request_moves_nothing_more(app, broker):
    books = await Books(app).open(100)
    request = books.request(10)
    envelope = await publish(broker, request)
    await eventually(lambda: books.outcomes([request.transfer_id]))
    await publish(broker, request, envelope)  # the same event again, as a broker redelivery would
    await publish(broker, request, envelope)
    # A later request on the same holding proves the redeliveries were consumed (and ignored).
    later = books.request(1)
    await publish(broker, later)
    await eventually(lambda: books.outcomes([later.transfer_id]))
    assert await books.outcomes([request.transfer_id]) == {"completed": 1}
    assert await books.available(books.integrator) == 11
    await assert_conserved(app)


@pytest.mark.parametrize(
    "case, reason_code",
    [
        ("more than available", "insufficient_quantity"),
        ("to an archived integrator", "destination_not_eligible"),
        ("to another distributor's org", "destination_not_eligible"),
        ("from an org that holds none", "unknown_line"),
        ("of an expired entitlement", "entitlement_expired"),
    ],
)
async def test_refused_transfers_say_why_and_move_nothing(app, case, reason_code):
    expired = date.today() - timedelta(days=1) if "expired" in case else None
    books = await Books(app).open(10, expiration=expired)
    request = {
        "more than available": books.request(11),
        "to an archived integrator": books.request(1, to_org=books.archived),
        "to another distributor's org": books.request(1, to_org=books.stranger),
        "from an org that holds none": books.request(1, from_org=books.stranger, to_org=books.integrator),
        "of an expired entitlement": books.request(1),
    }[case]
    async with UnitOfWork(app.state.session_factory, producer="tests") as uow:
        outcome = await apply_transfer(uow, request)
        await uow.commit()
    assert outcome.reason_code == reason_code, outcome
    assert await books.available(books.distributor) == 10
    await assert_conserved(app)


async def test_a_batch_of_requests_is_decided_in_order_as_if_applied_one_by_one(app):
    """What the consumer hands over under load: one call, many requests, some depending on the ones
    before (the integrator passes on what it just received), some refused in between."""
    books = await Books(app).open(10)
    batch = [
        books.request(6),                                                     # distributor -> integrator
        books.request(5),                                                     # 4 left: refused
        books.request(4, from_org=books.integrator, to_org=books.customer),  # passes on part of the 6
        books.request(1, to_org=books.archived),                              # refused: archived
        books.request(None),                                                  # all the distributor has left
        books.request(1, from_org=books.customer, to_org=books.integrator),  # not its child: refused
        books.request(3, from_org=books.integrator, to_org=books.customer),  # 2 + 4 received
    ]
    async with UnitOfWork(app.state.session_factory, producer="tests") as uow:
        outcomes = await apply_transfers(uow, batch)
        await uow.commit()
    assert [(type(o).__name__, getattr(o, "quantity", None), getattr(o, "reason_code", None)) for o in outcomes] == [
        ("TransferCompleted", 6, None), ("TransferRejected", 5, "insufficient_quantity"),
        ("TransferCompleted", 4, None), ("TransferRejected", 1, "destination_not_eligible"),
        ("TransferCompleted", 4, None), ("TransferRejected", 1, "destination_not_eligible"),
        ("TransferCompleted", 3, None),
    ]
    assert [await books.available(org) for org in (books.distributor, books.integrator, books.customer)] == [0, 3, 7]
    async with app.state.engine.connect() as conn:
        customer_entries = (await conn.execute(
            sa.select(ledger_entries.c.kind, ledger_entries.c.quantity, ledger_entries.c.available_after)
            .where(ledger_entries.c.line_id == books.line, ledger_entries.c.org_id == books.customer)
            .order_by(ledger_entries.c.id))).all()
    assert customer_entries == [("transfer_in", 4, 4), ("transfer_in", 3, 7)]
    await assert_conserved(app)  # also: every entry's "available after" is its holding's running sum


async def test_fifty_concurrent_transfers_never_overdraw_the_holding(app):
    """50 transactions race for one holding of 100, 3 each: exactly 33 fit, 1 license stays."""
    books = await Books(app).open(100)

    async def transfer_three() -> str:
        async with UnitOfWork(app.state.session_factory, producer="tests") as uow:
            outcome = await apply_transfer(uow, books.request(3))
            await uow.commit()
            return type(outcome).__name__

    results = await asyncio.gather(*(transfer_three() for _ in range(50)))
    assert results.count("TransferCompleted") == 33
    assert results.count("TransferRejected") == 17
    assert (await books.available(books.distributor), await books.available(books.integrator)) == (1, 99)
    await assert_conserved(app)


async def test_fifty_requests_over_the_bus_to_two_replicas_settle_exactly_as_many_as_fit(app, broker, infrastructure):
    books = await Books(app).open(100)
    second_replica = create_app(infrastructure.settings(EntitlementsSettings))
    async with running(second_replica):
        requests = [books.request(3) for _ in range(50)]
        await asyncio.gather(*(publish(broker, r) for r in requests))
        ids = [r.transfer_id for r in requests]
        await eventually(lambda: _all_settled(books, ids, 50), timeout=30)
    assert await books.outcomes(ids) == {"completed": 33, "rejected": 17}
    assert await books.available(books.distributor) == 1
    await assert_conserved(app)


async def _all_settled(books: Books, ids, expected: int) -> bool:
    return sum((await books.outcomes(ids)).values()) == expected


# A random sequence of issue, transfers, splits (to eligible and ineligible orgs, sometimes more than
# available) and activations, some of them concurrent: after every step every line balances.
operation = st.one_of(
    st.tuples(st.just("transfer"), st.sampled_from(["distributor>integrator", "integrator>customer",
                                                     "distributor>archived", "integrator>stranger"]),
              st.none() | st.integers(1, 60)),
    st.tuples(st.just("activate"), st.just("customer"), st.integers(1, 40)),
    st.tuples(st.just("concurrent splits"), st.sampled_from(["distributor>integrator", "integrator>customer"]),
              st.integers(1, 30)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(issued=st.integers(1, 200), operations=st.lists(operation, min_size=1, max_size=8))
async def test_any_sequence_of_operations_keeps_every_line_conserved(app, issued, operations):
    books = await Books(app).open(issued)
    orgs = {"distributor": books.distributor, "integrator": books.integrator, "customer": books.customer,
            "archived": books.archived, "stranger": books.stranger}

    async def transfer(route: str, quantity: int | None) -> None:
        source, destination = route.split(">")
        async with UnitOfWork(app.state.session_factory, producer="tests") as uow:
            await apply_transfer(uow, books.request(quantity, to_org=orgs[destination], from_org=orgs[source]))
            await uow.commit()

    for kind, target, quantity in operations:
        if kind == "transfer":
            await transfer(target, quantity)
        elif kind == "concurrent splits":
            await asyncio.gather(*(transfer(target, quantity) for _ in range(4)))
        else:
            async with UnitOfWork(app.state.session_factory, producer="tests") as uow:
                line = await find_line(uow.session, books.entitlement, books.product)
                await activate(uow.session, line, ActivationRequest(org_id=books.customer, quantity=quantity,
                                                                    project_name="Site A"))
                await uow.commit()
        await assert_conserved(app)


async def test_the_conservation_check_catches_a_license_made_out_of_thin_air(app):
    """The checker every test relies on is not vacuous: a holding changed outside the ledger shows."""
    books = await Books(app).open(10)
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.update(holdings).where(holdings.c.line_id == books.line).values(available=11))
    async with app.state.session_factory() as session:
        broken = await unconserved_lines(session)
    assert [(b["entitlement_id"], b["issued"], b["held"]) for b in broken] == [(books.entitlement, 10, 11)]
    async with app.state.engine.begin() as conn:  # put it back for the checks of later tests
        await conn.execute(sa.update(holdings).where(holdings.c.line_id == books.line).values(available=10))
