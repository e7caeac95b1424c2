"""The transactions log's queries (its read side): the completed transfers of one org, sent or
received, with the counterparty from the org directory; filters, sort and keyset paging, and the
CSV columns.

Each side is its own branch of a UNION ALL, so each reads one partial index
(transactions_sent / transactions_received) and the caller's org scopes both. A page sorted by a
column of the transfer itself is cut in each branch already (keyset, order, limit), so the newest
page of a long log reads a page's worth of index entries per side, not the whole log.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from shared.keyset import Window
from shared.org_directory import org_directory, org_directory_representatives
from shared.search import contains_pattern
from transfers.db import transfers


@dataclass(frozen=True)
class TransactionFilters:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    product_id: uuid.UUID | None = None
    action_type: str | None = None
    counterparty_id: uuid.UUID | None = None
    po_number_contains: str | None = None


def _sort_keys(occurred_at, product_name, action_type, quantity, entitlement_id, po_number, sales_order) -> dict:
    """Sort keys never NULL, so (key, id) keyset comparisons hold for every row."""
    return {
        "occurred_at": occurred_at,
        "product_name": sa.func.coalesce(product_name, ""),
        "action_type": action_type,
        "quantity": quantity,
        "entitlement_id": entitlement_id,
        "po_number": sa.func.coalesce(po_number, ""),
        "sales_order": sa.func.coalesce(sales_order, ""),
    }


def _side(direction: str, filters: TransactionFilters, window: Window | None) -> sa.Select:
    """One direction's rows; the org, the filters' values and the window's position are bind
    parameters (`_params`), so one statement serves every caller with the same filters set."""
    t = transfers.c
    mine, other = (t.from_org_id, t.to_org_id) if direction == "sent" else (t.to_org_id, t.from_org_id)
    query = sa.select(
        t.id,
        t.completed_at.label("occurred_at"),
        t.product_id,
        t.product_name,
        t.product_description,
        t.action.label("action_type"),
        t.quantity,
        t.entitlement_id,
        t.po_number,
        t.sales_order,
        sa.literal(direction, sa.Text).label("direction"),
        other.label("counterparty_id"),
        t.representatives,
        t.cc_emails,
        t.note,
    ).where(mine == sa.bindparam("org_id", type_=t.from_org_id.type), t.status == "completed")
    if filters.start is not None:
        query = query.where(t.completed_at >= sa.bindparam("start", type_=t.completed_at.type))
    if filters.end is not None:
        query = query.where(t.completed_at < sa.bindparam("end", type_=t.completed_at.type))
    if filters.product_id is not None:
        query = query.where(t.product_id == sa.bindparam("product_id", type_=t.product_id.type))
    if filters.action_type is not None:
        query = query.where(t.action == sa.bindparam("action_type", type_=t.action.type))
    if filters.counterparty_id is not None:
        query = query.where(other == sa.bindparam("counterparty_id", type_=t.to_org_id.type))
    if filters.po_number_contains:
        query = query.where(t.po_number.ilike(sa.bindparam("po_pattern", type_=sa.Text), escape="\\"))
    row_keys = _sort_keys(t.completed_at, t.product_name, t.action, t.quantity, t.entitlement_id, t.po_number,
                          t.sales_order)
    if window is not None and window.sort in row_keys:
        query = window.cut(query, row_keys[window.sort], t.id)
    return query




def _params(org_id: uuid.UUID, filters: TransactionFilters) -> dict:
    values = {"org_id": org_id, "start": filters.start, "end": filters.end, "product_id": filters.product_id,
              "action_type": filters.action_type, "counterparty_id": filters.counterparty_id,
              "po_pattern": contains_pattern(filters.po_number_contains) if filters.po_number_contains else None}
    return {name: value for name, value in values.items() if value is not None}


# Page statements by shape: building one (two subqueries, a union, a join) and working out its
# cache key costs more than running it, and the dashboard asks for pages all the time.
_pages: dict[tuple, sa.Select] = {}


def page_query(org_id: uuid.UUID, filters: TransactionFilters, window: Window) -> tuple[sa.Select, dict]:
    """The window's page (with the counterparty's name and the sort key, for the next cursor) and
    its parameters. The statement is built once per shape: which filters are set, the sort, the
    direction, a cursor or not."""
    shape = (tuple(value is not None and value != "" for value in vars(filters).values()), window.shape)
    statement = _pages.get(shape)
    if statement is None:
        statement = _pages[shape] = TransactionsLog(filters, window).page_query()
    return statement, {**_params(org_id, filters), **window.params()}


def export_query(org_id: uuid.UUID, filters: TransactionFilters, columns: list[str], sort: str,
                 descending: bool) -> tuple[sa.Select, dict]:
    return TransactionsLog(filters).export_query(columns, sort, descending), _params(org_id, filters)


class TransactionsLog:
    """Transactions as one FROM clause (the org and the values as bind parameters), and the
    expressions to sort by."""

    def __init__(self, filters: TransactionFilters, window: Window | None = None):
        self.window = window
        branches = [_side(direction, filters, window).subquery() for direction in ("sent", "received")]
        self.rows = sa.union_all(*(sa.select(branch) for branch in branches)).subquery("tx")
        self.source = self.rows.outerjoin(org_directory, org_directory.c.id == self.rows.c.counterparty_id)
        tx = self.rows.c
        counterparty_name = org_directory.c.name
        self.sort_keys = {
            **_sort_keys(tx.occurred_at, tx.product_name, tx.action_type, tx.quantity, tx.entitlement_id,
                         tx.po_number, tx.sales_order),
            "counterparty": sa.func.coalesce(counterparty_name, ""),
        }

    def page_query(self) -> sa.Select:
        """The window's page, with the counterparty's name and the sort key (for the next cursor)."""
        key = self.sort_keys[self.window.sort]
        query = sa.select(self.rows, org_directory.c.name.label("counterparty_name"), key.label("sort_key"))
        return self.window.cut(query.select_from(self.source), key, self.rows.c.id)

    def _export_values(self) -> dict:
        """The columns an export may choose (built only for an export: a page never needs them)."""
        tx, counterparty_name = self.rows.c, org_directory.c.name
        reps = org_directory_representatives.c
        # "ada@acme.example (Ada Lovelace)", or the email alone when no name is known.
        full_name = sa.func.nullif(sa.func.concat_ws(" ", reps.first_name, reps.last_name), "")
        listed = sa.func.concat(reps.email, sa.func.coalesce(sa.literal(" (").op("||")(full_name).op("||")(")"), ""))
        return {
            "occurred_at": tx.occurred_at,
            "product_name": tx.product_name,
            "product_description": tx.product_description,
            "action_type": tx.action_type,
            "quantity": tx.quantity,
            "entitlement_id": tx.entitlement_id,
            "po_number": tx.po_number,
            "sales_order": tx.sales_order,
            "direction": tx.direction,
            "counterparty": counterparty_name,
            "counterparty_representatives": sa.select(
                sa.func.array_to_string(
                    sa.func.array_agg(aggregate_order_by(listed, reps.is_default.desc(), reps.email)), "; "
                )
            )
            .where(reps.org_id == tx.counterparty_id)
            .scalar_subquery(),
        }

    def export_query(self, columns: list[str], sort: str, descending: bool) -> sa.Select:
        key = self.sort_keys[sort]
        export_values = self._export_values()
        values = [export_values[name].label(name) for name in columns]
        order = [key.desc(), self.rows.c.id.desc()] if descending else [key.asc(), self.rows.c.id.asc()]
        return sa.select(*values).select_from(self.source).order_by(*order)


async def representatives_of(session, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The representatives of each org, the default first."""
    if not org_ids:
        return {}
    reps = org_directory_representatives.c
    rows = (
        await session.execute(
            sa.select(reps.org_id, reps.email, reps.first_name, reps.last_name, reps.is_default)
            .where(reps.org_id.in_(org_ids))
            .order_by(reps.org_id, reps.is_default.desc(), reps.email)
        )
    ).mappings()
    found: dict[uuid.UUID, list[dict]] = {}
    for row in rows:
        found.setdefault(row["org_id"], []).append(
            {k: row[k] for k in ("email", "first_name", "last_name", "is_default")}
        )
    return found
