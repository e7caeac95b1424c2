"""Failed attempts slowed per client address, counted in identity's database: sign-in per
(account, address) and per address, accepting an invite per address.

No one can lock anyone else out (OWASP): an account is never blocked as such, only the pair of it
and the address that keeps failing, so the right password from an address that has not been
failing always gets checked.

Each attempt first reserves its rows (one per counter) under a lock per subject, so concurrent
attempts on any replica are counted one after another and never more than the limit get checked.
The rows stay when the attempt fails, and they are the failures counted; a success deletes its
own rows (and, for sign-in, its account's failures from that address).
"""

import math
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db import sign_in_attempts
from identity.domain.client_address import client_address, parse_trusted_proxies
from identity.settings import IdentitySettings
from shared.problems import Problem

ACCOUNT_AT_ADDRESS = "account-address"
ADDRESS = "address"
INVITE_ADDRESS = "invite-address"

_SOURCES = {ACCOUNT_AT_ADDRESS: "failed sign-ins for this account from this address",
            ADDRESS: "failed sign-ins from this address",
            INVITE_ADDRESS: "invalid invite links from this address"}


@dataclass(frozen=True)
class Counter:
    kind: str
    subject: str
    limit: int


def address_of(request: Request) -> str:
    """The client's address, as counted: the gateway's word for it when the gateway forwarded it."""
    settings: IdentitySettings = request.app.state.settings
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"), parse_trusted_proxies(settings.trusted_proxies))


def sign_in_counters(settings: IdentitySettings, email: str, address: str) -> list[Counter]:
    return [Counter(ACCOUNT_AT_ADDRESS, f"{email} {address}", settings.sign_in_failures_per_account),
            Counter(ADDRESS, address, settings.sign_in_failures_per_address)]


def invite_counters(settings: IdentitySettings, address: str) -> list[Counter]:
    return [Counter(INVITE_ADDRESS, address, settings.sign_in_failures_per_address)]


async def reserve_attempt(session: AsyncSession, settings: IdentitySettings, counters: list[Counter]) -> list[int]:
    """Commits the attempt's rows and returns their ids, or raises 429 with Retry-After."""
    window = timedelta(seconds=settings.sign_in_failure_window_seconds)
    async with session.begin():
        for counter in counters:  # always in the same order: no lock cycles
            await _lock(session, counter.kind, counter.subject)
        now = (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
        # Forget attempts older than the window; rows another attempt holds are left for later.
        expired = (sa.select(sign_in_attempts.c.id).where(sign_in_attempts.c.attempted_at <= now - window)
                   .limit(1000).with_for_update(skip_locked=True))
        await session.execute(sa.delete(sign_in_attempts).where(sign_in_attempts.c.id.in_(expired.scalar_subquery())))
        waits = []
        for counter in counters:
            # The limit-th newest attempt in the window: once it leaves the window, one more may try.
            blocking = (await session.execute(
                sa.select(sign_in_attempts.c.attempted_at)
                .where(sign_in_attempts.c.kind == counter.kind, sign_in_attempts.c.subject == counter.subject,
                       sign_in_attempts.c.attempted_at > now - window)
                .order_by(sign_in_attempts.c.attempted_at.desc()).offset(counter.limit - 1).limit(1)
            )).scalar_one_or_none()
            if blocking is not None:
                waits.append((counter.kind, max(1, math.ceil((blocking + window - now).total_seconds()))))
        if waits:
            kind, seconds = max(waits, key=lambda wait: wait[1])
            raise Problem(429, f"Too many {_SOURCES[kind]}. Try again in {seconds} seconds.",
                          title="Too many attempts", headers={"Retry-After": str(seconds)})
        ids = (await session.execute(
            sa.insert(sign_in_attempts).returning(sign_in_attempts.c.id),
            [{"kind": counter.kind, "subject": counter.subject, "attempted_at": now} for counter in counters],
        )).scalars().all()
    return list(ids)


async def clear_after_success(session: AsyncSession, counters: list[Counter], attempt_ids: list[int]) -> None:
    """In the attempt's own transaction: its own rows go, and the failures of the pair (account,
    address) that has now succeeded; the address as a whole keeps its failures."""
    pairs = [counter for counter in counters if counter.kind == ACCOUNT_AT_ADDRESS]
    for counter in pairs:  # two sign-ins of one pair delete its rows one after the other
        await _lock(session, counter.kind, counter.subject)
    await session.execute(sa.delete(sign_in_attempts).where(sa.or_(
        sign_in_attempts.c.id.in_(attempt_ids),
        *(sa.and_(sign_in_attempts.c.kind == counter.kind, sign_in_attempts.c.subject == counter.subject)
          for counter in pairs),
    )))


async def _lock(session: AsyncSession, kind: str, subject: str) -> None:
    key = sa.func.hashtextextended(f"sign-in {kind} {subject}", 0)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
