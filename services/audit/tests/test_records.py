"""How events read in the audit log (pure)."""

import inspect
import uuid
from datetime import UTC, datetime

import pytest

from audit.domain.records import MESSAGES, AuditRecord, describe
from shared.events import devices, identity, orgs
from shared.events.entitlements import ActivationDeactivated
from shared.events.envelope import EventPayload


def test_a_known_event_reads_as_a_sentence_with_its_fields():
    record = describe("orgs.organization.created", {"tier": "vendor", "name": "Acme", "org_id": "x"})
    assert record.category == "Organizations"
    assert record.message == "Vendor Acme created"


def test_an_unknown_event_still_gets_a_category_and_a_readable_message():
    record = describe("transfers.transfer.withdrawn", {})
    assert record.category == "Transfers"
    assert record.message == "Transfer withdrawn"


def test_a_missing_field_is_shown_as_missing_rather_than_failing():
    assert describe("orgs.organization.created", {"tier": "vendor"}).message == "Vendor {name} created"


# --- identity and orgs events, built from the event contracts themselves ---------------------

ORG = uuid.uuid4()
JANE = uuid.uuid4()


def read(event: EventPayload):
    return describe(event.routing_key, event.model_dump(mode="json"))


@pytest.mark.parametrize("module", [identity, orgs, devices])
def test_every_identity_and_orgs_event_has_a_message(module):
    events = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
              if issubclass(cls, EventPayload) and cls.__module__ == module.__name__ and "routing_key" in vars(cls)]
    assert events
    assert [cls.routing_key for cls in events if cls.routing_key not in MESSAGES] == []


@pytest.mark.parametrize(("event", "category", "message"), [
    (identity.InviteCreated(invite_id=uuid.uuid4(), org_id=ORG, email="jane@x.com", role="project_manager",
                            token="t", expires_at=datetime.now(UTC)),
     "Members", "Invited jane@x.com as Project Manager"),
    (identity.InviteResent(invite_id=uuid.uuid4(), org_id=ORG, email="jane@x.com", role="viewer", token="t",
                           expires_at=datetime.now(UTC)),
     "Members", "Invite to jane@x.com resent"),
    (identity.InviteDeleted(invite_id=uuid.uuid4(), org_id=ORG, email="jane@x.com"),
     "Members", "Invite to jane@x.com deleted"),
    (identity.MemberCreated(member_id=JANE, org_id=ORG, email="jane@x.com", role="auditor"),
     "Members", "jane@x.com joined as Auditor"),
    (identity.SignedIn(member_id=JANE, org_id=ORG, email="jane@x.com"), "Sign-in", "jane@x.com signed in"),
    (identity.MemberRoleChanged(member_id=JANE, org_id=ORG, old_role="admin", new_role="viewer", email="jane@x.com"),
     "Members", "Role of jane@x.com changed from Admin to Viewer"),
    (identity.MemberRemoved(member_id=JANE, org_id=ORG, email="jane@x.com"),
     "Members", "jane@x.com removed from the organization"),
    (orgs.OrganizationCreated(org_id=ORG, name="Acme", tier="integrator"), "Integrators", "Integrator Acme created"),
    (orgs.OrganizationCreated(org_id=ORG, name="Beta", tier="customer"), "Customers", "Customer Beta created"),
    (orgs.OrganizationCreated(org_id=ORG, name="Dist", tier="distributor"), "Distributors", "Distributor Dist created"),
    (orgs.OrganizationUpdated(org_id=ORG, name="Acme", tier="integrator", changed=["email_domain", "country"]),
     "Integrators", "Integrator Acme updated: email domain, country"),
    (orgs.OrganizationArchived(org_id=ORG, name="Acme", tier="integrator"), "Integrators", "Acme archived"),
    (orgs.OrganizationUnarchived(org_id=ORG, name="Acme", tier="customer"), "Customers", "Acme unarchived"),
    (orgs.RepresentativeAdded(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com", org_name="Acme",
                              tier="integrator"),
     "Integrators", "Representative bob@x.com added to Acme"),
    (orgs.RepresentativeUpdated(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com", org_name="Acme",
                                tier="customer", changed=["first_name", "phone"]),
     "Customers", "Representative bob@x.com of Acme updated: first name, phone"),
    (orgs.RepresentativeRemoved(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com", org_name="Acme",
                                tier="integrator"),
     "Integrators", "Representative bob@x.com removed from Acme"),
    (orgs.RepresentativeMadeDefault(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com", org_name="Acme",
                                    tier="integrator"),
     "Integrators", "bob@x.com is now the default representative of Acme"),
])
def test_identity_and_orgs_events_read_as_sentences(event, category, message):
    record = read(event)
    assert (record.category, record.message) == (category, message)


@pytest.mark.parametrize(("event", "message"), [
    (identity.SignedIn(member_id=JANE, org_id=ORG), "A member signed in"),
    (identity.MemberRoleChanged(member_id=JANE, org_id=ORG, old_role="admin", new_role="support"),
     "Role of a member changed from Admin to Support"),
    (orgs.OrganizationUpdated(org_id=ORG, name="Acme", tier="integrator"), "Integrator Acme updated"),
    (orgs.RepresentativeAdded(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com"),
     "Representative bob@x.com added"),
    (orgs.RepresentativeUpdated(org_id=ORG, representative_id=uuid.uuid4(), email="bob@x.com"),
     "Representative bob@x.com updated"),
])
def test_older_events_without_the_newer_fields_still_read_well(event, message):
    assert read(event).message == message


def test_a_deactivated_activation_reads_as_licenses_given_back():
    record = read(ActivationDeactivated(
        activation_id=uuid.uuid4(), org_id=ORG, entitlement_id="ENT-2026-000042", product_id=uuid.uuid4(),
        product_name="Camera Pro", quantity=3, project_name="Lobby", available_after=5))
    assert (record.category, record.message) == (
        "Activations", "3 x Camera Pro of project Lobby deactivated, back to available")


def test_a_device_activation_reads_as_a_sentence_with_its_usage():
    event = devices.DeviceActivated(device_id=uuid.uuid4(), license_id=uuid.uuid4(), org_id=ORG, name="Ward PC",
                                    active_devices=3, max_devices=10)
    assert read(event) == AuditRecord("Devices", "Device Ward PC activated (3 of 10 in use)")


def test_a_completed_or_rejected_transfer_names_both_orgs_when_their_names_are_known():
    sender, receiver = uuid.uuid4(), uuid.uuid4()
    payload = {"from_org_id": str(sender), "to_org_id": str(receiver), "entitlement_id": "ENT-1",
               "product_name": "Engine", "quantity": 50, "action": "split", "reason": "Not enough licenses"}
    names = {str(sender): "Nordic Distribution", str(receiver): "Contoso AV"}
    assert describe("entitlements.transfer.completed", payload, names).message == (
        "50 x Engine of entitlement ENT-1 transferred from Nordic Distribution to Contoso AV (split)")
    assert describe("entitlements.transfer.rejected", payload, names).message == (
        "Transfer from entitlement ENT-1 of Nordic Distribution to Contoso AV rejected: Not enough licenses")
    # Orgs the audit has not heard of: the sentence without names, not a placeholder.
    assert describe("entitlements.transfer.completed", payload).message == (
        "50 x Engine of entitlement ENT-1 transferred (split)")
