"""The billing rules alone: claim codes, periods and pauses, money, invoice totals."""

from datetime import date

import pytest

from billing.domain import claim_codes as codes
from billing.domain.invoices import billing_status, licence_line, total, why_not_move
from billing.domain.money import InvalidAmount, from_minor, period_amount, to_minor
from billing.domain.periods import Pause, add_months, lifecycle_status, paused_days, renewed_period


def test_a_new_code_is_eight_symbols_of_crockfords_alphabet_shown_in_two_groups():
    code = codes.new_code()
    assert len(code) == 8 and set(code) <= set(codes.ALPHABET)
    assert not set("ILOU") & set(codes.ALPHABET)
    assert codes.shown("ABCD1234") == "ABCD-1234"
    assert len({codes.new_code() for _ in range(200)}) == 200


def test_a_code_is_read_case_insensitively_with_look_alikes_and_separators():
    assert codes.normalise("abcd-1234") == "ABCD1234"
    assert codes.normalise(" ab cd-ol1i ") == "ABCD0111"
    for typed in ("ABCD123", "ABCD12345", "ABCD-123U", "ABCD-12*4"):
        with pytest.raises(codes.MalformedCode):
            codes.normalise(typed)


def test_the_stored_hash_is_keyed_and_matches_the_code_however_typed():
    assert codes.keyed_hash("abcd-1234", "k1") == codes.keyed_hash("ABCD1234", "k1")
    assert codes.keyed_hash("ABCD1234", "k1") != codes.keyed_hash("ABCD1234", "k2")


def test_months_are_added_to_the_last_day_of_a_shorter_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 12) == date(2027, 11, 15)
    assert renewed_period(date(2026, 1, 10), date(2026, 2, 10), 1, date(2026, 4, 2)) == (date(2026, 3, 10),
                                                                                         date(2026, 4, 10))


def test_paused_days_count_only_inside_the_period_and_once():
    period = (date(2026, 3, 1), date(2026, 3, 31))
    pauses = [Pause(date(2026, 2, 20), date(2026, 3, 5)),  # 4 days in March
              Pause(date(2026, 3, 10), date(2026, 3, 20)),  # 10 days
              Pause(date(2026, 3, 15), date(2026, 3, 18))]  # inside the previous one
    assert paused_days(pauses, *period, today=date(2026, 4, 1)) == 14
    assert paused_days([Pause(date(2026, 3, 28), None)], *period, today=date(2026, 3, 30)) == 2
    assert paused_days([Pause(date(2026, 3, 3), date(2026, 3, 3))], *period, today=date(2026, 4, 1)) == 0


def test_paused_days_are_not_billed():
    assert period_amount(unit_price_minor=1000, quantity=5, period_days=30, paused_days=0) == 5000
    assert period_amount(unit_price_minor=1000, quantity=5, period_days=30, paused_days=6) == 4000
    assert period_amount(unit_price_minor=999, quantity=1, period_days=30, paused_days=1) == 966  # 965.7, half up
    line = licence_line(plan_name="Monthly", interval_months=1, licence_name="Lobby", quantity=5,
                        unit_price_minor=1000, period_start=date(2026, 3, 1), period_end=date(2026, 3, 31),
                        pauses=[Pause(date(2026, 3, 10), date(2026, 3, 16))], today=date(2026, 4, 1))
    assert (line.paused_days, line.amount_minor) == (6, 4000)
    assert total([line, line]) == 8000


def test_amounts_are_minor_units_of_their_currency():
    assert to_minor("12.50", "EUR") == 1250
    assert to_minor("1200", "JPY") == 1200
    assert str(from_minor(1250, "EUR")) == "12.50"
    for bad in ("12.505", "-1", "abc"):
        with pytest.raises(InvalidAmount):
            to_minor(bad, "EUR")
    with pytest.raises(InvalidAmount):
        to_minor("12.5", "JPY")


def test_lifecycle_status_is_kept_apart_from_billing_status():
    today = date(2026, 3, 1)
    assert lifecycle_status(paused=False, period_end=date(2026, 6, 1), today=today, expiring_window_days=30) == "active"
    assert lifecycle_status(paused=False, period_end=date(2026, 3, 20), today=today,
                            expiring_window_days=30) == "expiring_soon"
    assert lifecycle_status(paused=False, period_end=today, today=today, expiring_window_days=30) == "expired"
    assert lifecycle_status(paused=True, period_end=date(2026, 3, 20), today=today, expiring_window_days=30) == "paused"
    assert [billing_status(s) for s in (None, "open", "paid", "void")] == ["none", "invoiced", "paid", "none"]


def test_only_an_open_invoice_is_paid_or_voided():
    assert why_not_move("open", "paid") is None and why_not_move("open", "void") is None
    assert why_not_move("paid", "void") and why_not_move("void", "paid") and why_not_move("paid", "paid")
