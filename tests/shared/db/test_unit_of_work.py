"""The unit of work and the driver paths (shared.db): state and events commit together or not at
all, on a session's transaction or on the driver alone; errors come out as SQLAlchemy's; work cut
off midway never hands its connection on."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from shared.db import DriverStatement, UnitOfWork, driver_connection
from shared.problems import _database_unavailable
from tests.conftest import WidgetCounted


async def test_a_one_statement_unit_of_work_writes_its_state_and_events_together_or_not_at_all(producer):
    inbox = sa.table("inbox", sa.column("consumer"), sa.column("event_id"))
    state_id = uuid.uuid4()

    async def attempt(commit: bool = True) -> uuid.UUID:
        async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=True) as uow:
            uow.write_at_commit(sa.insert(inbox).values(consumer="one-statement test", event_id=sa.bindparam("state_id")),
                                {"state_id": state_id})
            event_id = uow.record(WidgetCounted(widget="one statement", count=1)).event_id
            if commit:
                await uow.commit()
        return event_id

    async def written(event_id) -> tuple[int, int]:
        async with producer.engine.connect() as conn:
            state = await conn.scalar(sa.text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": state_id})
            events = await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": event_id})
        return state, events

    left = await attempt(commit=False)  # staged, never sent
    assert await written(left) == (0, 0)
    first = await attempt()
    assert await written(first) == (1, 1)
    with pytest.raises(sa.exc.IntegrityError):  # the same state again: the write fails, and its event with it
        await attempt()
    async with producer.engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE body->'payload'->>'widget' = 'one statement'")) == 1


_BACKEND = DriverStatement(sa.select(sa.func.pg_backend_pid()))
_INBOX_ROW = DriverStatement(sa.text("SELECT consumer, event_id FROM inbox WHERE event_id = :event_id"))


async def test_a_one_statement_unit_of_work_runs_on_the_driver_and_fails_as_a_session_would(producer):
    """The driver path (no session) reads rows in column order, and its errors are SQLAlchemy's,
    which the services' handlers turn into answers: a value the database refuses (422), a
    connection lost (503, and the pool drops it)."""
    inbox = sa.table("inbox", sa.column("consumer"), sa.column("event_id"))
    write = sa.insert(inbox).values(consumer=sa.bindparam("consumer"), event_id=sa.bindparam("event_id"))
    state_id = uuid.uuid4()

    async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=True) as uow:
        uow.write_at_commit(write, {"consumer": "driver test", "event_id": state_id})
        await uow.commit()
        [row] = await uow.fetch(_INBOX_ROW, {"event_id": state_id})
    assert row == ("driver test", state_id) and (row.consumer, row["event_id"]) == ("driver test", state_id)

    with pytest.raises(sa.exc.DBAPIError) as refused:  # SQLSTATE 22: shared.problems answers 422
        async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=True) as uow:
            uow.write_at_commit(write, {"consumer": "nul \x00 inside", "event_id": uuid.uuid4()})
            event_id = uow.record(WidgetCounted(widget="refused", count=1)).event_id
            await uow.commit()
    assert refused.value.orig.sqlstate.startswith("22")
    async with producer.engine.connect() as conn:  # and its event is not there either
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": event_id}) == 0

    with pytest.raises(sa.exc.DBAPIError) as lost:
        async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=True) as uow:
            [(backend,)] = await uow.fetch(_BACKEND, {})
            async with producer.engine.connect() as other:
                await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            await asyncio.sleep(0.1)
            uow.write_at_commit(write, {"consumer": "driver test", "event_id": uuid.uuid4()})
            await uow.commit()
    assert lost.value.connection_invalidated
    assert _database_unavailable(lost.value)  # shared.problems: a 503 with Retry-After
    async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=True) as uow:
        [(next_backend,)] = await uow.fetch(_BACKEND, {})  # a working connection, not the dead one
    assert next_backend != backend


_ADD_TO_INBOX = DriverStatement(sa.text("INSERT INTO inbox (consumer, event_id) VALUES (:consumer, :event_id)"))


async def test_driver_statements_in_a_unit_of_work_share_its_session_and_its_transaction(producer):
    """The consumers' busy statements run on the driver inside the session's transaction: the
    session sees what they wrote, and both commit together with the events, or roll back together."""
    inbox = sa.table("inbox", sa.column("consumer"), sa.column("event_id"))

    async def attempt(commit: bool) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
        driver_id, session_id = uuid.uuid4(), uuid.uuid4()
        async with UnitOfWork(producer.sessions, producer=producer.service) as uow:
            await uow.execute(_ADD_TO_INBOX, {"consumer": "driver in a session", "event_id": driver_id})
            # the session reads the driver's write: one connection, one transaction
            assert await uow.session.scalar(sa.select(sa.func.count()).select_from(inbox)
                                            .where(inbox.c.event_id == driver_id)) == 1
            await uow.session.execute(sa.insert(inbox).values(consumer="driver in a session", event_id=session_id))
            [row] = await uow.fetch(_INBOX_ROW, {"event_id": session_id})  # and the driver the session's
            assert row.consumer == "driver in a session"
            event_id = uow.record(WidgetCounted(widget="driver in a session", count=1)).event_id
            if commit:
                await uow.commit()
        return driver_id, session_id, event_id

    async def written(*ids) -> int:
        async with producer.engine.connect() as conn:
            return await conn.scalar(sa.text(
                "SELECT (SELECT count(*) FROM inbox WHERE event_id = ANY(:ids))"
                " + (SELECT count(*) FROM outbox WHERE event_id = ANY(:ids))"), {"ids": list(ids)})

    assert await written(*await attempt(commit=False)) == 0  # left without commit: none of the three
    assert await written(*await attempt(commit=True)) == 3  # committed: all three

    async with UnitOfWork(producer.sessions, producer=producer.service) as uow:  # on after a commit
        first_id, second_id = uuid.uuid4(), uuid.uuid4()
        await uow.execute(_ADD_TO_INBOX, {"consumer": "driver in a session", "event_id": first_id})
        await uow.commit()
        await uow.execute(_ADD_TO_INBOX, {"consumer": "driver in a session", "event_id": second_id})
    assert await written(first_id, second_id) == 1  # the second, in a transaction never committed, is not

    with pytest.raises(sa.exc.DBAPIError) as lost:  # a lost connection, as on the one-statement path
        async with UnitOfWork(producer.sessions, producer=producer.service) as uow:
            [(backend,)] = await uow.fetch(_BACKEND, {})
            async with producer.engine.connect() as other:
                await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            await asyncio.sleep(0.1)
            await uow.execute(_ADD_TO_INBOX, {"consumer": "driver in a session", "event_id": uuid.uuid4()})
    assert lost.value.connection_invalidated and _database_unavailable(lost.value)
    async with UnitOfWork(producer.sessions, producer=producer.service) as uow:
        [(next_backend,)] = await uow.fetch(_BACKEND, {})  # the next unit of work works, elsewhere
    assert next_backend != backend


async def test_work_on_the_driver_cut_off_midway_ends_cancelled_and_its_connection_is_not_reused(producer):
    """A stopping service cancels its requests, relays and consumers wherever they are, maybe in
    the middle of a statement: the cancellation must come out as such (not as a failed ROLLBACK),
    and the connection, in an unknown state, must never be handed out again. On each driver path:
    a connection alone (the transfers POST), a transaction (the relay), a unit of work's session."""
    sleep = DriverStatement(sa.select(sa.func.pg_sleep(30)))

    async def on_a_driver_connection(started: asyncio.Event, backends: list) -> None:
        async with driver_connection(producer.engine) as connection:
            [(backend,)] = await connection.fetch(_BACKEND, {})
            backends.append(backend)
            started.set()
            await connection.fetch(sleep, {})

    async def in_a_driver_transaction(started: asyncio.Event, backends: list) -> None:
        async with driver_connection(producer.engine) as connection, connection.transaction():
            [(backend,)] = await connection.fetch(_BACKEND, {})
            backends.append(backend)
            started.set()
            await connection.fetch(sleep, {})

    async def in_a_unit_of_work(started: asyncio.Event, backends: list) -> None:
        async with UnitOfWork(producer.sessions, producer=producer.service) as uow:
            [(backend,)] = await uow.fetch(_BACKEND, {})
            backends.append(backend)
            started.set()
            await uow.fetch(sleep, {})

    for unit in (on_a_driver_connection, in_a_driver_transaction, in_a_unit_of_work):
        started, backends = asyncio.Event(), []
        task = asyncio.create_task(unit(started, backends))
        await started.wait()
        await asyncio.sleep(0.1)  # inside pg_sleep now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):  # the pool hands out working connections, none of them the one cut off
            async with driver_connection(producer.engine) as connection:
                [(backend,)] = await connection.fetch(_BACKEND, {})
            assert backend != backends[0], unit.__name__


async def test_fetching_a_write_without_returning_gives_no_rows_on_either_path(producer):
    for one_statement in (False, True):
        async with UnitOfWork(producer.sessions, producer=producer.service, one_statement=one_statement) as uow:
            assert list(await uow.fetch(_ADD_TO_INBOX, {"consumer": "no rows", "event_id": uuid.uuid4()})) == []
