"""Each event that calls for mail reaches the right people, with the right subject, CC and links,
through a real SMTP server."""

import uuid
from datetime import UTC, date, datetime, timedelta

from shared.events.entitlements import EntitlementExpired, EntitlementExpiringSoon, TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, InviteResent, MemberCreated, MemberRoleChanged
from shared.events.orgs import OrganizationCreated, RepresentativeInfo
from shared.events.transfers import TransferRequested
from shared.testing import eventually


def unique_email(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def an_org(name: str, *representatives: tuple[str, bool], tier: str = "integrator") -> OrganizationCreated:
    return OrganizationCreated(
        org_id=uuid.uuid4(), name=name, tier=tier, parent_id=uuid.uuid4(),
        representatives=[
            RepresentativeInfo(representative_id=uuid.uuid4(), email=email, is_default=default)
            for email, default in representatives
        ],
    )


def a_member(org_id: uuid.UUID, role: str = "admin", name: str = "member") -> MemberCreated:
    return MemberCreated(member_id=uuid.uuid4(), org_id=org_id, email=unique_email(name), role=role)


async def received_by(mail_server, address: str, count: int = 1):
    async def arrived():
        mails = mail_server.to(address)
        return mails if len(mails) >= count else None

    return await eventually(arrived)


async def test_an_invite_carries_the_accept_link_and_a_resent_invite_the_new_one(mail_server, notify_app, publish, portal_url):
    org = an_org("Acme <Labs> & Co")
    email = unique_email("invitee")
    expires = datetime.now(UTC) + timedelta(days=7)
    async with notify_app(mail_server):
        await publish(org)
        await publish(InviteCreated(invite_id=uuid.uuid4(), org_id=org.org_id, email=email, role="project_manager",
                                    token="first-token", expires_at=expires))
        [invite] = await received_by(mail_server, email)
        await publish(InviteResent(invite_id=uuid.uuid4(), org_id=org.org_id, email=email, role="project_manager",
                                   token="second+token/=", expires_at=expires))
        _, resent = await received_by(mail_server, email, 2)

    assert invite.recipients == (email,)
    assert invite.message["To"] == email
    assert invite.subject == "Your invitation to join Acme <Labs> & Co"
    assert f"{portal_url}/accept-invite?token=first-token" in invite.text()
    assert f'href="{portal_url}/accept-invite?token=first-token"' in invite.html()
    assert "Project Manager" in invite.text()
    # The org's name is escaped in the HTML part, and plain in the text part.
    assert "Acme &lt;Labs&gt; &amp; Co" in invite.html() and "<Labs>" not in invite.html()
    assert "Acme <Labs> & Co" in invite.text()

    assert resent.subject == "Reminder: your invitation to join Acme <Labs> & Co"
    assert f"{portal_url}/accept-invite?token=second%2Btoken%2F%3D" in resent.text()
    assert "first-token" not in resent.text()


async def test_a_new_member_is_welcomed(mail_server, notify_app, publish, portal_url):
    org = an_org("Welcoming Org")
    member = a_member(org.org_id, role="viewer", name="newcomer")
    async with notify_app(mail_server):
        await publish(org)
        await publish(member)
        [welcome] = await received_by(mail_server, member.email)
    assert welcome.subject == "Welcome to Welcoming Org"
    assert "Viewer" in welcome.text() and portal_url in welcome.text()


async def test_a_completed_transfer_goes_to_the_chosen_representative_with_the_cc(mail_server, notify_app, publish):
    default_rep, chosen_rep = unique_email("default-rep"), unique_email("chosen-rep")
    sender = an_org("Distri Ltd", tier="distributor")
    receiver = an_org("Integra GmbH", (default_rep, True), (chosen_rep, False))
    cc = [unique_email("cc-one"), unique_email("cc-two")]
    request = TransferRequested(
        transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id, entitlement_id="ENT-2026-0042",
        product_id=uuid.uuid4(), quantity=5, notify_representative=chosen_rep, cc_emails=cc,
    )
    async with notify_app(mail_server):
        for event in (sender, receiver):
            await publish(event)
        await publish(completed(request, quantity=5))
        [mail] = await received_by(mail_server, chosen_rep)

    assert set(mail.recipients) == {chosen_rep, *cc}
    assert mail.message["To"] == chosen_rep
    assert [a.strip() for a in str(mail.message["Cc"]).split(",")] == cc
    assert mail.subject == "5 × Vision Pro transferred to Integra GmbH"
    text = mail.text()
    for shown in ("Vision Pro", "5", "ENT-2026-0042", "PO-778", "SO-123", "Distri Ltd"):
        assert shown in text
    assert "ENT-2026-0042" in mail.html() and "PO-778" in mail.html()
    assert mail_server.to(default_rep) == []


async def test_a_completed_transfer_whose_outcome_names_nobody_to_tell_goes_to_the_default(
    mail_server, notify_app, publish
):
    """An outcome from before the events said whom to tell (no such field at all)."""
    default_rep, other_rep = unique_email("default-rep"), unique_email("other-rep")
    receiver = an_org("Customer Inc", (other_rep, False), (default_rep, True), tier="customer")
    request = TransferRequested(
        transfer_id=uuid.uuid4(), from_org_id=uuid.uuid4(), to_org_id=receiver.org_id, entitlement_id="ENT-7",
        product_id=uuid.uuid4(),
    )
    async with notify_app(mail_server):
        await publish(receiver)
        await publish(from_before_whom_to_tell(completed(request, quantity=12)))
        [mail] = await received_by(mail_server, default_rep)
    assert mail.recipients == (default_rep,)
    assert mail.message["Cc"] is None
    assert "12" in mail.text() and "ENT-7" in mail.text()
    assert mail_server.to(other_rep) == []


async def test_a_transfer_whose_sender_declined_the_notification_mails_nobody(
    mail_server, notify_app, publish, notification_rows
):
    """The sender unticked "notify the representative": neither the default representative nor
    the CCs get mail, while the next transfer's representative does."""
    default_rep, cc, next_rep = unique_email("declined-rep"), unique_email("declined-cc"), unique_email("next-rep")
    sender = an_org("Quiet Distri", tier="distributor")
    receiver = an_org("Quiet Integra", (default_rep, True))
    other = an_org("Next Integra", (next_rep, True))
    declined = TransferRequested(
        transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id, entitlement_id="ENT-Q",
        product_id=uuid.uuid4(), notify_representative=None, cc_emails=[cc],
    )
    told = TransferRequested(
        transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=other.org_id, entitlement_id="ENT-Q",
        product_id=uuid.uuid4(), notify_representative=next_rep,
    )
    async with notify_app(mail_server) as app:
        for event in (sender, receiver, other):
            await publish(event)
        declined_outcome = await publish(completed(declined, quantity=4))
        await publish(completed(told, quantity=4))
        await received_by(mail_server, next_rep)  # handled after the declined one: the queue keeps its order
        assert await notification_rows(app, declined_outcome.event_id) == []
    assert mail_server.to(default_rep) == [] and mail_server.to(cc) == []


async def test_a_rejected_transfer_goes_to_the_member_who_asked_with_the_reason(
    mail_server, notify_app, publish, notification_rows
):
    sender = an_org("Sender Org", tier="distributor")
    requester = a_member(sender.org_id, role="project_manager", name="requester")
    admin = a_member(sender.org_id, role="admin", name="sender-admin")
    receiver = an_org("Archived Partner")
    request = TransferRequested(
        transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id, entitlement_id="ENT-9",
        product_id=uuid.uuid4(), quantity=3, requested_by=requester.member_id,
    )
    rejection = TransferRejected(
        transfer_id=request.transfer_id, from_org_id=sender.org_id, to_org_id=receiver.org_id,
        entitlement_id="ENT-9", product_id=request.product_id, quantity=3, reason_code="insufficient_quantity",
        reason="Only 2 licenses of ENT-9 are available.", requested_by=requester.member_id,
    )
    async with notify_app(mail_server) as app:
        for event in (sender, receiver, requester, admin):
            await publish(event)
        rejected_event = await publish(rejection)
        mails = await received_by(mail_server, requester.email, 2)  # the welcome and the rejection
        queued = await notification_rows(app, rejected_event.event_id)
    # Only the requester is queued for this rejection, not the sender org's Admins. (The mailbox is
    # not checked for the Admin: in a full run an entitlements consumer may also answer this
    # request with its own rejection, which is a different event.)
    assert [row.recipient for row in queued] == [requester.email]
    [rejected] = [m for m in mails if "rejected" in m.subject]
    assert rejected.recipients == (requester.email,)
    assert rejected.subject == "Transfer of ENT-9 was rejected"
    assert "Only 2 licenses of ENT-9 are available." in rejected.text()
    assert "Archived Partner" in rejected.text()


async def test_expiry_warnings_and_expiry_go_to_the_admins_of_every_holder(
    mail_server, notify_app, publish, notification_rows
):
    holder, other_holder = an_org("Holder One"), an_org("Holder Two")
    admin_one = a_member(holder.org_id, "admin", "admin-one")
    viewer = a_member(holder.org_id, "viewer", "viewer")
    promoted = a_member(other_holder.org_id, "technician", "promoted")
    expiry_date = date.today() + timedelta(days=7)
    holders = [holder.org_id, other_holder.org_id]
    async with notify_app(mail_server) as app:
        for event in (holder, other_holder, admin_one, viewer, promoted):
            await publish(event)
        await publish(MemberRoleChanged(member_id=promoted.member_id, org_id=other_holder.org_id,
                                        old_role="technician", new_role="admin"))
        expiry_events = [
            await publish(EntitlementExpiringSoon(entitlement_id="ENT-EXP", expiration_date=expiry_date,
                                                  days_left=days, holder_org_ids=holders))
            for days in (30, 7, 1)
        ]
        expiry_events.append(await publish(EntitlementExpired(entitlement_id="ENT-EXP", expiration_date=expiry_date,
                                                              holder_org_ids=holders)))
        for admin in (admin_one, promoted):
            await received_by(mail_server, admin.email, 5)  # welcome, 3 warnings, expired
        await received_by(mail_server, viewer.email)
        for event in expiry_events:
            rows = await notification_rows(app, event.event_id)
            assert sorted(row.recipient for row in rows) == sorted([admin_one.email, promoted.email])

    for admin, org_name in ((admin_one, "Holder One"), (promoted, "Holder Two")):
        # Lanes send in parallel: mail arrives in no set order.
        subjects = sorted(m.subject for m in mail_server.to(admin.email) if not m.subject.startswith("Welcome"))
        assert subjects == sorted([
            "Entitlement ENT-EXP expires in 30 days",
            "Entitlement ENT-EXP expires in 7 days",
            "Entitlement ENT-EXP expires in 1 day",
            "Entitlement ENT-EXP has expired",
        ])
        assert all(org_name in m.text() for m in mail_server.to(admin.email))
    assert [m.subject for m in mail_server.to(viewer.email)] == ["Welcome to Holder One"]


def completed(request: TransferRequested, quantity: int) -> TransferCompleted:
    """The outcome as entitlements sends it: whom to tell copied from the request."""
    return TransferCompleted(
        transfer_id=request.transfer_id, from_org_id=request.from_org_id, to_org_id=request.to_org_id,
        entitlement_id=request.entitlement_id, product_id=request.product_id, product_name="Vision Pro",
        quantity=quantity, action="split", po_number="PO-778", sales_order="SO-123",
        notify_representative=request.notify_representative, cc_emails=request.cc_emails,
        requested_by=request.requested_by,
    )


def from_before_whom_to_tell(event: TransferCompleted) -> Envelope:
    """The event as a producer sent it before the contract had the fields saying whom to tell."""
    envelope = Envelope.wrap(event, producer="test")
    added = {"notify_representative", "cc_emails", "requested_by"}
    return envelope.model_copy(update={"payload": {k: v for k, v in envelope.payload.items() if k not in added}})
