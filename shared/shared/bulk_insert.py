"""Many rows in one INSERT whose SQL is built once per table and set of columns.

Why not SQLAlchemy's `postgresql.insert(...).on_conflict_do_...()`: that construct opts out of
SQLAlchemy's statement cache (`inherit_cache = False` in sqlalchemy/dialects/postgresql/dml.py),
so it is compiled anew at every execution. On the consumers' hot paths (audit's batch of events,
notify's queued mails) the compiling was a large share of the service's CPU. Here the rows
travel as one JSON document read by `jsonb_to_recordset`: the SQL text is the same whatever the
number of rows, so it is built once, and asyncpg reuses its prepared statement. It runs as a
DriverStatement in the unit of work's transaction (`UnitOfWork.fetch`).

Columns a row leaves out take their server defaults; every row must name the same columns.
"""

import functools
import json
import uuid
from collections.abc import Sequence
from typing import Any
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db import DriverStatement, UnitOfWork

_DIALECT = postgresql.dialect()


async def insert_rows(
    uow: UnitOfWork, table: sa.Table, rows: Sequence[dict], *, on_conflict: str = "",
    returning: Sequence[str] = (),
) -> Sequence[Any]:
    """INSERT `rows` into `table`, then `on_conflict` (SQL, e.g. "ON CONFLICT (id) DO NOTHING");
    the `returning` columns of the rows written, when asked for."""
    if not rows:
        return []
    statement = _statement(table, tuple(rows[0]), on_conflict, tuple(returning))
    return await uow.fetch(statement, {"rows": json.dumps(rows, default=_json_value)})


@functools.cache
def _statement(table: sa.Table, columns: tuple[str, ...], on_conflict: str, returning: tuple[str, ...]) -> DriverStatement:
    names = ", ".join(f'"{name}"' for name in columns)
    record = ", ".join(f'"{name}" {table.c[name].type.compile(dialect=_DIALECT)}' for name in columns)
    sql = (f'INSERT INTO "{table.name}" ({names}) SELECT {names}'
           f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({record}) {on_conflict}")
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    return DriverStatement(sa.text(sql).bindparams(sa.bindparam("rows", type_=sa.Text)))


def _json_value(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()  # microseconds kept: PostgreSQL reads back the same instant
    raise TypeError(f"{type(value).__name__} is not a JSON value")
