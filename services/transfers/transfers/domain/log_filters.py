"""Pure rules of the transactions log: what it sorts by, which CSV columns exist, and what a
date range means (no I/O)."""

from datetime import UTC, date, datetime, time, timedelta

# sort=<name>: the allow-list, in the order the portal shows the columns.
SORTABLE = (
    "occurred_at", "product_name", "action_type", "quantity", "entitlement_id", "po_number", "sales_order",
    "counterparty",
)

# columns=<names> of the CSV export, with their headings (the portal's wording).
EXPORT_COLUMNS = {
    "occurred_at": "Date & Time",
    "product_name": "Product Name",
    "product_description": "Product Description",
    "action_type": "Action Type",
    "quantity": "License QTY",
    "entitlement_id": "Entitlement ID",
    "po_number": "PO Number",
    "sales_order": "QSC Sales Order",
    "direction": "Direction",
    "counterparty": "Counterparty",
    "counterparty_representatives": "Representatives",
}
DEFAULT_EXPORT_COLUMNS = (
    "occurred_at", "product_name", "product_description", "action_type", "quantity", "entitlement_id", "po_number",
    "sales_order", "direction", "counterparty", "counterparty_representatives",
)


class InvalidQuery(ValueError):
    """A filter, sort or column the client can correct; the message says how."""


def export_columns(requested: str | None) -> list[str]:
    """The chosen columns in the chosen order (each once); all of them when none are chosen."""
    if requested is None or not requested.strip():
        return list(DEFAULT_EXPORT_COLUMNS)
    names = list(dict.fromkeys(name.strip() for name in requested.split(",") if name.strip()))
    unknown = [name for name in names if name not in EXPORT_COLUMNS]
    if unknown or not names:
        raise InvalidQuery(
            f"Unknown column(s): {', '.join(unknown) or '(none)'}. Choose from: {', '.join(EXPORT_COLUMNS)}."
        )
    return names


def _moment(text: str, name: str) -> datetime | date:
    """A calendar day (2026-11-01) or a moment (2026-11-01T09:30:00Z; without a zone: UTC)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidQuery(f"{name} must be a date (2026-11-01) or a date and time (2026-11-01T09:30:00Z).") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def range_start(text: str) -> datetime:
    """Inclusive: a day starts at its midnight (UTC)."""
    moment = _moment(text, "from")
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time.min, UTC)


def range_end(text: str) -> datetime:
    """Exclusive bound of an inclusive end: a day counts whole; a moment counts itself."""
    moment = _moment(text, "to")
    if isinstance(moment, datetime):
        return moment + timedelta(microseconds=1)  # PostgreSQL keeps microseconds: `< t + 1 µs` is `<= t`
    return datetime.combine(moment + timedelta(days=1), time.min, UTC)
