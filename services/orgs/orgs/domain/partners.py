"""Pure rules for integrators' and customers' company data and representatives (no I/O)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass


MAX_REPRESENTATIVES = 5

EMAIL_DOMAIN = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2, upper case


class InvalidPartner(ValueError):
    """A rule broken by the input; the message names the problem for the client."""


def check_email_domain(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 253 or not EMAIL_DOMAIN.fullmatch(value):
        raise InvalidPartner(f"'{value}' is not a valid email domain (like example.com)")
    return value


def check_country(value: str) -> str:
    value = value.strip().upper()
    if not COUNTRY.fullmatch(value):
        raise InvalidPartner(f"'{value}' is not an ISO 3166-1 alpha-2 country code (like DE or US)")
    return value


@dataclass(frozen=True)
class RepresentativeDraft:
    email: str
    is_default: bool = False


def default_representative(representatives: Sequence[RepresentativeDraft]) -> int:
    """Checks the 1-to-5, unique-email and one-default rules; returns the index of the default
    (the one marked, else the first)."""
    if not representatives:
        raise InvalidPartner("at least one representative is required")
    if len(representatives) > MAX_REPRESENTATIVES:
        raise InvalidPartner(
            f"at most {MAX_REPRESENTATIVES} representatives are allowed, {len(representatives)} were given"
        )
    seen: set[str] = set()
    for rep in representatives:
        key = rep.email.casefold()
        if key in seen:
            raise InvalidPartner(f"representative email '{rep.email}' appears more than once")
        seen.add(key)
    marked = [i for i, rep in enumerate(representatives) if rep.is_default]
    if len(marked) > 1:
        raise InvalidPartner("only one representative may be the default")
    return marked[0] if marked else 0


ARCHIVED = "archived"


def why_archived_may_not_create(tier: str) -> str:
    """What "archived" means for an integrator or customer, action by action: the relationship with
    its parent has ended, so it takes on nothing new, while what it already has stays readable.

    - receives no transfers (entitlements and transfers check the destination);
    - makes no outgoing transfers (transfers refuses the request; entitlements' ledger, which
      applies it later, refuses it too if the sender was archived in between);
    - creates no customers (here) and invites no new members (identity);
    - keeps signing in, reading its data, activating and deactivating the licenses it already
      holds (they are its own), and managing its existing customers' records.

    Its parent may still edit, archive or unarchive it. The archive events
    (orgs.organization.archived / unarchived) tell the other services."""
    return f"Your organization is archived: an archived {tier} cannot create new customers."
