"""Which emails an event calls for: to whom, with what subject, template and data.

Pure: the handler looks up addresses and names, these functions decide. A context holds only JSON
values, since it is stored with the notification and rendered when the mail is sent. A secret (an
invite's token) stays sealed in the stored context, as its event carried it; it is opened only by
`template_context`, as the mail is rendered (shared.events.secrets).
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from shared.events.entitlements import (
    EntitlementExpired,
    EntitlementExpiringSoon,
    TransferCompleted,
    TransferRejected,
)
from shared.events.devices import LicenseUserAssigned, LicenseUserPasswordSet
from shared.events.identity import InviteCreated, InviteResent, MemberCreated

PORTAL_NAME = "the licensing portal"

# Context values that are sealed event secrets: opened at rendering, dropped once the mail is sent.
SEALED_CONTEXT_KEYS = ("invite_token", "license_user_password", "attachment_base64")


def one_line(text: str) -> str:
    """A header value: names from events may hold line breaks, which a header must not."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    template: str  # the name of a pair <template>.txt / <template>.html
    context: dict
    # The orgs whose Admins may see the notification and its delivery state.
    org_ids: tuple[uuid.UUID, ...]
    cc: tuple[str, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "subject", one_line(self.subject))


def role_label(role: str) -> str:
    return role.replace("_", " ").title()


def accept_invite_url(portal_url: str, token: str) -> str:
    return f"{portal_url.rstrip('/')}/accept-invite?{urlencode({'token': token})}"


def invite_mail(event: InviteCreated | InviteResent, org_name: str | None, portal_url: str) -> Mail:
    resent = isinstance(event, InviteResent)
    where = org_name or PORTAL_NAME
    return Mail(
        recipient=event.email,
        subject=f"{'Reminder: your' if resent else 'Your'} invitation to join {where}",
        template="invite",
        context={
            "org_name": org_name,
            "role": role_label(event.role),
            "portal_url": portal_url,
            "invite_token": event.token,  # sealed: the accept link is built when the mail is rendered
            "expires_at": event.expires_at.strftime("%d %b %Y, %H:%M UTC"),
            "resent": resent,
        },
        org_ids=(event.org_id,),
    )


def license_user_mail(event: LicenseUserAssigned | LicenseUserPasswordSet, org_name: str | None) -> Mail:
    """A license user's credentials for activating the licensed software: on assignment, or a new
    password set by the customer's Admin (the password stays sealed until the mail is rendered)."""
    assigned = isinstance(event, LicenseUserAssigned)
    return Mail(
        recipient=event.email,
        subject=f"{'Your access to' if assigned else 'A new password for'} {event.product_name}"
                f" ({event.project_name})",
        template="license_user",
        context={
            "org_name": org_name,
            "product_name": event.product_name,
            "project_name": event.project_name,
            "email": event.email,
            "license_user_password": event.initial_password if assigned else event.password,
            "assigned": assigned,
        },
        org_ids=(event.org_id,),
    )


def template_context(template: str, context: dict, open_secret: Callable[[str], str]) -> dict:
    """What a template sees: the stored context with its sealed values opened, and the links built
    from them. `open_secret` raises (shared.events.secrets.SecretUnreadable) when it cannot."""
    opened = {name: open_secret(value) if name in SEALED_CONTEXT_KEYS else value for name, value in context.items()}
    if template == "invite" and "invite_token" in opened:
        opened["accept_url"] = accept_invite_url(opened.pop("portal_url"), opened.pop("invite_token"))
    return opened


def welcome_mail(event: MemberCreated, org_name: str | None, portal_url: str) -> Mail:
    return Mail(
        recipient=event.email,
        subject=f"Welcome to {org_name or PORTAL_NAME}",
        template="welcome",
        context={"org_name": org_name, "role": role_label(event.role), "portal_url": portal_url.rstrip("/")},
        org_ids=(event.org_id,),
    )


def transfer_completed_mail(
    event: TransferCompleted,
    *,
    recipient: str,
    cc: Iterable[str],
    from_org_name: str | None,
    to_org_name: str | None,
) -> Mail:
    return Mail(
        recipient=recipient,
        cc=tuple(distinct(e for e in cc if e.lower() != recipient.lower())),
        subject=f"{event.quantity} × {event.product_name} transferred to {to_org_name or 'your organization'}",
        template="transfer_completed",
        context={
            "from_org_name": from_org_name,
            "to_org_name": to_org_name,
            "product_name": event.product_name,
            "product_description": event.product_description,
            "quantity": event.quantity,
            "entitlement_id": event.entitlement_id,
            "po_number": event.po_number,
            "sales_order": event.sales_order,
        },
        org_ids=(event.to_org_id, event.from_org_id),  # the sender chose the recipients
    )


def transfer_rejected_mails(event: TransferRejected, recipients: Iterable[str], to_org_name: str | None) -> list[Mail]:
    context = {
        "to_org_name": to_org_name,
        "entitlement_id": event.entitlement_id,
        "quantity": event.quantity,
        "reason": event.reason,
    }
    return [
        Mail(
            recipient=recipient,
            subject=f"Transfer of {event.entitlement_id} was rejected",
            template="transfer_rejected",
            context=context,
            org_ids=(event.from_org_id,),
        )
        for recipient in distinct(recipients)
    ]


def expiry_mails(
    event: EntitlementExpiringSoon | EntitlementExpired, admins: dict[uuid.UUID, tuple[str | None, list[str]]]
) -> list[Mail]:
    """One mail per Admin of each holder org (`admins`: org id -> (org name, Admin emails))."""
    expired = isinstance(event, EntitlementExpired)
    days_left = None if expired else event.days_left
    if expired:
        subject = f"Entitlement {event.entitlement_id} has expired"
    else:
        subject = f"Entitlement {event.entitlement_id} expires in {days_left} day{'s' if days_left != 1 else ''}"
    mails, seen = [], set()
    for org_id in event.holder_org_ids:
        org_name, emails = admins.get(org_id, (None, []))
        for email in emails:
            if email.lower() in seen:
                continue
            seen.add(email.lower())
            mails.append(
                Mail(
                    recipient=email,
                    subject=subject,
                    template="entitlement_expired" if expired else "entitlement_expiring",
                    context={
                        "org_name": org_name,
                        "entitlement_id": event.entitlement_id,
                        "expiration_date": event.expiration_date.strftime("%d %b %Y"),
                        "days_left": days_left,
                    },
                    org_ids=(org_id,),
                )
            )
    return mails


def distinct(emails: Iterable[str]) -> list[str]:
    """Addresses once each (compared without case), in their first order, blanks dropped."""
    seen, result = set(), []
    for email in emails:
        email = email.strip()
        if email and email.lower() not in seen:
            seen.add(email.lower())
            result.append(email)
    return result
