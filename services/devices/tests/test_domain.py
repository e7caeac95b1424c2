"""The pure rules: a license's status on a given day, the validation codes, activation refusals,
the rate limit."""

from datetime import date, timedelta

import pytest

from devices.domain.keys import key_digest, new_license_key
from devices.domain.licenses import (
    Code, Lifecycle, Rules, Status, Usage, activation_refusal, status_on, validation_code)
from devices.domain.rate_limit import WindowLimit

EXPIRES = date(2026, 6, 30)
RULES = Rules(max_devices=2, max_license_users=5, default_user_activation_cap=1, grace_period_days=14,
              virtual_machines_allowed=False, offline_allowed=True, device_resets_per_30_days=3)


@pytest.mark.parametrize(("today", "status"), [
    (EXPIRES - timedelta(days=31), Status.ACTIVE),
    (EXPIRES - timedelta(days=30), Status.EXPIRING),
    (EXPIRES, Status.EXPIRING),
    (EXPIRES + timedelta(days=1), Status.IN_GRACE),
    (EXPIRES + timedelta(days=14), Status.IN_GRACE),
    (EXPIRES + timedelta(days=15), Status.EXPIRED),
])
def test_expiry_and_grace_follow_the_calendar(today, status):
    assert status_on(Lifecycle(expires_on=EXPIRES, grace_period_days=14), today) is status


def test_revoked_wins_over_suspended_and_the_calendar():
    lifecycle = Lifecycle(expires_on=EXPIRES, grace_period_days=0, suspended=True, revoked=True)
    assert status_on(lifecycle, EXPIRES + timedelta(days=100)) is Status.REVOKED
    assert status_on(Lifecycle(expires_on=None, grace_period_days=0, suspended=True), EXPIRES) is Status.SUSPENDED
    assert status_on(Lifecycle(expires_on=None, grace_period_days=0), date(2999, 1, 1)) is Status.ACTIVE


def test_validation_codes():
    assert validation_code(None, False) is Code.NOT_FOUND
    assert validation_code(Status.ACTIVE, False) is Code.DEVICE_NOT_ACTIVATED
    assert validation_code(Status.EXPIRING, True) is Code.VALID
    assert validation_code(Status.IN_GRACE, True) is Code.IN_GRACE
    assert validation_code(Status.EXPIRED, True) is Code.EXPIRED
    assert validation_code(Status.PAUSED, True) is Code.PAUSED
    assert validation_code(Status.REVOKED, False) is Code.REVOKED


def test_activation_refusals_in_order():
    free = Usage(active_devices=1, user_devices=None, user_cap=None)
    assert activation_refusal(Status.ACTIVE, RULES, free, virtual_machine=False) is None
    assert activation_refusal(Status.SUSPENDED, RULES, free, virtual_machine=True) is Code.SUSPENDED
    assert activation_refusal(Status.ACTIVE, RULES, free, virtual_machine=True) is Code.VIRTUAL_MACHINE_NOT_ALLOWED
    full = Usage(active_devices=2, user_devices=0, user_cap=1)
    assert activation_refusal(Status.ACTIVE, RULES, full, virtual_machine=False) is Code.TOO_MANY_DEVICES
    capped = Usage(active_devices=1, user_devices=1, user_cap=1)
    assert activation_refusal(Status.IN_GRACE, RULES, capped, virtual_machine=False) is Code.USER_DEVICE_LIMIT


def test_keys_are_160_random_bits_and_their_digest_ignores_case_and_blanks():
    key = new_license_key()
    assert len(key.replace("-", "")) == 32 and key.count("-") == 7
    assert key != new_license_key()
    assert key_digest(b"s", key) == key_digest(b"s", f"  {key.lower()} ")
    assert key_digest(b"s", key) != key_digest(b"other secret", key)


def test_the_window_limit_counts_per_key_and_says_how_long_to_wait():
    limit = WindowLimit(2, window=60)
    assert limit.wait("a", 0.0) == 0 and limit.wait("a", 1.0) == 0
    assert limit.wait("a", 2.0) == pytest.approx(58.0)
    assert limit.wait("b", 2.0) == 0
    assert limit.wait("a", 60.0) == 0


def test_the_window_limit_forgets_past_windows_when_full():
    limit = WindowLimit(1, window=10, max_keys=2)
    limit.wait("a", 0.0)
    limit.wait("b", 0.0)
    assert limit.wait("c", 11.0) == 0
    assert limit.wait("a", 12.0) == 0  # a's count was of a past window
