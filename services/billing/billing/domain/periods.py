"""Billing periods, pauses and a licence's lifecycle status: pure date arithmetic."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

INTERVALS = {"monthly": 1, "yearly": 12}


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (Jan 31 -> Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def interval_label(months: int) -> str:
    return {1: "monthly", 12: "yearly"}.get(months, f"every {months} months")


@dataclass(frozen=True)
class Pause:
    started_on: date
    ended_on: date | None  # None: still paused


def paused_days(pauses: list[Pause], start: date, end: date, today: date) -> int:
    """Days of [start, end) during which the licence was paused (a pause still running counts up
    to `today`). A pause covers the days from its first to the day before it ended: paused and
    resumed on the same day costs nothing."""
    days: set[date] = set()
    for pause in pauses:
        until = pause.ended_on or max(today, pause.started_on)
        first, last = max(pause.started_on, start), min(until, end)
        days.update(first + timedelta(n) for n in range((last - first).days))
    return len(days)


def renewed_period(period_start: date, period_end: date, interval_months: int, today: date) -> tuple[date, date]:
    """The period that contains `today`, rolling a renewing licence forward period by period."""
    while period_end <= today:
        period_start, period_end = period_end, add_months(period_end, interval_months)
    return period_start, period_end


def lifecycle_status(*, paused: bool, period_end: date, today: date, expiring_window_days: int) -> str:
    """active, expiring_soon, expired or paused (the console's filters); billing status is apart."""
    if paused:
        return "paused"
    if period_end <= today:
        return "expired"
    if period_end <= today + timedelta(days=expiring_window_days):
        return "expiring_soon"
    return "active"
