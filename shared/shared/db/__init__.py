"""The async database layer: the engine, the outbox and inbox tables every service carries, and
the unit of work that writes state and events in one transaction.

One database API per transaction, each through its public calls:

- a unit of work with a session (the default): the ORM and Core through `uow.session`, and the
  precompiled `DriverStatement`s of the busy paths (`uow.fetch`, `uow.execute`) through the same
  session's connection (`AsyncConnection.exec_driver_sql`), so SQLAlchemy owns the transaction,
  its errors and its tracing throughout. What the driver path saved there is compiling, which
  `exec_driver_sql` skips too; the consumers run a few statements per batch of events, so the
  rest of SQLAlchemy's execution is shared by the whole batch.
- the driver alone (`driver_connection`, `UnitOfWork(one_statement=True)`): a connection of the
  engine's pool used through asyncpg (`conn.fetch`, `conn.transaction()`), for the paths that
  run per request or per publish batch (the transfers POST, the relay's claim and mark, notify's
  sender). The same pool serves both, so its size, its timeout (a 503) and its check of a closed
  connection hold for every query, and no second set of connections is opened.
"""

from shared.db.driver import DriverConnection, DriverRow, DriverStatement, driver_connection
from shared.db.engine import array_params, create_engine
from shared.db.messaging import OUTBOX_CHANNEL, add_messaging_tables, create_messaging_tables
from shared.db.unit_of_work import UnitOfWork

__all__ = [
    "OUTBOX_CHANNEL",
    "DriverConnection",
    "DriverRow",
    "DriverStatement",
    "UnitOfWork",
    "add_messaging_tables",
    "array_params",
    "create_engine",
    "create_messaging_tables",
    "driver_connection",
]
