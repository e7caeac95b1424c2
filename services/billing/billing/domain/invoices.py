"""What an invoice says: its lines (the licence's plan, quantity, unit price, period, paused days)
and its total; its number; which states it may move between (open -> paid or void)."""

from datetime import date

from billing.domain.money import period_amount
from billing.domain.periods import Pause, interval_label, paused_days
from shared.events.billing import InvoiceLine as Line

MAX_INVOICES_AT_ONCE = 20
TRANSITIONS = {"paid": {"open"}, "void": {"open"}}


def licence_line(*, plan_name: str, interval_months: int, licence_name: str, quantity: int, unit_price_minor: int,
                 period_start: date, period_end: date, pauses: list[Pause], today: date) -> Line:
    paused = paused_days(pauses, period_start, period_end, today)
    return Line(
        description=f"{plan_name} ({interval_label(interval_months)}): {licence_name}",
        quantity=quantity, unit_price_minor=unit_price_minor, period_start=period_start, period_end=period_end,
        paused_days=paused,
        amount_minor=period_amount(unit_price_minor=unit_price_minor, quantity=quantity,
                                   period_days=(period_end - period_start).days, paused_days=paused),
    )


def total(lines: list[Line]) -> int:
    return sum(line.amount_minor for line in lines)


def invoice_number(sequence: int) -> str:
    return f"INV-{sequence:06d}"


def why_not_move(current: str, target: str) -> str | None:
    if current in TRANSITIONS[target]:
        return None
    return f"This invoice is {current}; only an open invoice can be marked {target}."


def billing_status(latest_invoice_state: str | None) -> str:
    """A licence's billing status follows its latest invoice: invoiced while open, paid, or none."""
    return {"open": "invoiced", "paid": "paid"}.get(latest_invoice_state or "", "none")
