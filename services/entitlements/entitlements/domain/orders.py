"""Orders read from a CSV file (one row per order line; rows with the same sales order form one
entitlement): pure parsing, no network. Problems are reported by line number."""

import hashlib
from dataclasses import dataclass, field

COLUMNS = ("sales_order", "po_number", "order_date", "expiration_date", "distributor_id", "product_id", "quantity")
REQUIRED = ("sales_order", "order_date", "distributor_id", "product_id", "quantity")


@dataclass
class Order:
    sales_order: str
    first_line: int  # line number in the file (the header is line 1)
    body: dict
    lines: list[int] = field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        """The same sales order always gives the same key, so a re-run imports nothing twice."""
        return "orders-import-" + hashlib.sha256(self.sales_order.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str


def missing_columns(header: list[str] | None) -> list[str]:
    present = {name.strip() for name in header or []}
    return [c for c in REQUIRED if c not in present]


def group_orders(rows) -> tuple[list[Order], list[LineProblem]]:
    """`rows`: (line number, dict) pairs. Rows of one sales order must agree on the order fields.
    An order with any bad row is left out whole: importing it without that line would be wrong."""
    orders: dict[str, Order] = {}
    problems: list[LineProblem] = []
    tainted: set[str] = set()
    for line, raw in rows:
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        problem = _row_problem(row)
        order = orders.get(row.get("sales_order", ""))
        if problem is None and order is not None and order.body != {**_order_fields(row), "lines": order.body["lines"]}:
            problem = f"order fields differ from line {order.first_line} of the same sales order"
        if problem is not None:
            problems.append(LineProblem(line, problem))
            if row.get("sales_order"):
                tainted.add(row["sales_order"])
            continue
        if order is None:
            order = orders[row["sales_order"]] = Order(row["sales_order"], line, {**_order_fields(row), "lines": []})
        order.body["lines"].append({"product_id": row["product_id"], "quantity": int(row["quantity"])})
        order.lines.append(line)
    for sales_order in tainted & orders.keys():
        problems.append(LineProblem(orders[sales_order].first_line,
                                    f"sales order {sales_order} not imported: another of its lines is invalid"))
    problems.sort(key=lambda p: p.line)
    return [o for o in orders.values() if o.sales_order not in tainted], problems


def _row_problem(row: dict) -> str | None:
    empty = [c for c in REQUIRED if not row.get(c)]
    if empty:
        return f"missing {', '.join(empty)}"
    try:
        int(row["quantity"])
    except ValueError:
        return f"quantity {row['quantity']!r} is not a whole number"
    return None


def _order_fields(row: dict) -> dict:
    return {
        "distributor_id": row["distributor_id"],
        "sales_order": row["sales_order"],
        "po_number": row.get("po_number") or None,
        "order_date": row["order_date"],
        "expiration_date": row.get("expiration_date") or None,
    }
