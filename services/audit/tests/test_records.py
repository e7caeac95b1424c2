"""How events read in the audit log (pure)."""

from audit.domain.records import describe


def test_a_known_event_reads_as_a_sentence_with_its_fields():
    record = describe("orgs.organization.created", {"tier": "vendor", "name": "Acme", "org_id": "x"})
    assert record.category == "Organizations"
    assert record.message == "Vendor organization Acme created"


def test_an_unknown_event_still_gets_a_category_and_a_readable_message():
    record = describe("transfers.transfer.requested", {})
    assert record.category == "Transfers"
    assert record.message == "Transfer requested"


def test_a_missing_field_is_shown_as_missing_rather_than_failing():
    assert describe("orgs.organization.created", {"tier": "vendor"}).message == "Vendor organization {name} created"
