"""The pure rules: who is told of a transfer, what a date range covers, which CSV columns exist."""

import uuid
from datetime import UTC, datetime

import pytest

from transfers.domain.log_filters import DEFAULT_EXPORT_COLUMNS, InvalidQuery, export_columns, range_end, range_start
from shared.validation import check_email
from transfers.domain.transfers import Representative, UnknownRepresentative, representative_to_notify

FIRST = Representative(uuid.uuid4(), "first@acme.example", is_default=False)
DEFAULT = Representative(uuid.uuid4(), "default@acme.example", is_default=True)


def test_the_default_representative_is_told_unless_another_is_chosen_or_nobody_is():
    assert representative_to_notify([FIRST, DEFAULT], notify=True, chosen_id=None) == DEFAULT.email
    assert representative_to_notify([FIRST, DEFAULT], notify=True, chosen_id=FIRST.id) == FIRST.email
    assert representative_to_notify([FIRST, DEFAULT], notify=False, chosen_id=FIRST.id) is None
    assert representative_to_notify([], notify=True, chosen_id=None) is None
    with pytest.raises(UnknownRepresentative):
        representative_to_notify([FIRST, DEFAULT], notify=False, chosen_id=uuid.uuid4())


def test_a_day_counts_whole_and_a_moment_counts_itself():
    assert range_start("2026-03-10") == datetime(2026, 3, 10, tzinfo=UTC)
    assert range_end("2026-03-10") == datetime(2026, 3, 11, tzinfo=UTC)
    assert range_start("2026-03-10T08:00:00") == datetime(2026, 3, 10, 8, tzinfo=UTC)
    assert range_end("2026-03-10T08:00:00+02:00") > datetime(2026, 3, 10, 6, tzinfo=UTC)
    with pytest.raises(InvalidQuery, match="from must be a date"):
        range_start("yesterday")


def test_export_columns_are_an_allow_list_in_the_chosen_order():
    assert export_columns(None) == list(DEFAULT_EXPORT_COLUMNS)
    assert export_columns(" quantity ,po_number,quantity") == ["quantity", "po_number"]
    with pytest.raises(InvalidQuery, match="Unknown column"):
        export_columns("quantity,requested_by")
    with pytest.raises(InvalidQuery):
        export_columns(",,")


@pytest.mark.parametrize("address", ["a@b.example", "first.last+tag@sub.example.co"])
def test_plausible_addresses_pass(address):
    assert check_email(f" {address} ") == address


@pytest.mark.parametrize("address", ["", "no-at.example", "a@b", "a b@c.example", "a@@b.example", "a@-b.example"])
def test_implausible_addresses_are_refused(address):
    with pytest.raises(ValueError):
        check_email(address)
