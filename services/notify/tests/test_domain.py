"""The pure rules: backoff, and who gets which mail."""

import uuid
from datetime import UTC, date, datetime

from notify.domain.mails import (
    accept_invite_url,
    expiry_mails,
    invite_mail,
    template_context,
    transfer_completed_mail,
    welcome_mail,
)
from notify.domain.retry import is_last_attempt, retry_delay
from shared.events.entitlements import EntitlementExpiringSoon, TransferCompleted
from shared.events.identity import InviteCreated, MemberCreated


def test_the_delay_doubles_from_the_base_up_to_the_cap():
    delays = [retry_delay(n, base=30, maximum=3600) for n in range(1, 12)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays[-1] == 3600 and max(delays) == 3600
    assert retry_delay(10_000, base=30, maximum=3600) == 3600  # no overflow however many attempts
    assert not is_last_attempt(7, 8) and is_last_attempt(8, 8)


def test_the_accept_link_encodes_the_token():
    assert accept_invite_url("http://portal/", "a+b/c=") == "http://portal/accept-invite?token=a%2Bb%2Fc%3D"


def test_an_invite_is_stored_with_its_token_sealed_and_rendered_with_the_link():
    event = InviteCreated(invite_id=uuid.uuid4(), org_id=uuid.uuid4(), email="a@x.com", role="viewer",
                          token="sealed:abc", expires_at=datetime(2027, 1, 31, tzinfo=UTC))
    stored = invite_mail(event, "Acme", "http://portal/").context
    assert "accept_url" not in stored and stored["invite_token"] == "sealed:abc"
    rendered = template_context("invite", stored, {"sealed:abc": "a+b"}.__getitem__)
    assert rendered["accept_url"] == "http://portal/accept-invite?token=a%2Bb"
    assert "invite_token" not in rendered
    legacy = {"accept_url": "http://portal/accept-invite?token=t", "role": "Viewer"}  # queued before sealing
    assert template_context("invite", legacy, {}.__getitem__) == legacy


def test_the_recipient_is_not_copied_and_each_cc_appears_once():
    event = TransferCompleted(
        transfer_id=uuid.uuid4(), from_org_id=uuid.uuid4(), to_org_id=uuid.uuid4(), entitlement_id="E-1",
        product_id=uuid.uuid4(), product_name="P", quantity=1, action="split",
    )
    mail = transfer_completed_mail(
        event, recipient="rep@x.com", cc=["REP@x.com", "a@x.com", "A@x.com", " ", "b@x.com"],
        from_org_name=None, to_org_name=None,
    )
    assert mail.cc == ("a@x.com", "b@x.com")
    assert set(mail.org_ids) == {event.to_org_id, event.from_org_id}


def test_each_holder_admin_is_told_once_and_sees_only_their_org():
    one, two, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event = EntitlementExpiringSoon(entitlement_id="E-2", expiration_date=date(2027, 1, 31), days_left=1,
                                    holder_org_ids=[one, two, unknown])
    mails = expiry_mails(event, {one: ("One", ["a@one.com", "b@one.com"]), two: ("Two", ["c@two.com", "A@one.com"])})
    assert [(m.recipient, m.org_ids) for m in mails] == [
        ("a@one.com", (one,)), ("b@one.com", (one,)), ("c@two.com", (two,)),
    ]
    assert mails[0].subject == "Entitlement E-2 expires in 1 day"
    assert mails[0].context["expiration_date"] == "31 Jan 2027"


def test_a_name_with_line_breaks_cannot_break_the_subject_header():
    event = MemberCreated(member_id=uuid.uuid4(), org_id=uuid.uuid4(), email="x@y.com", role="admin")
    mail = welcome_mail(event, "Evil\r\nBcc: victim@example.com", "http://portal")
    assert mail.subject == "Welcome to Evil Bcc: victim@example.com"
