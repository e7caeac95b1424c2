"""Failed sign-ins slowed per account and per client address, counted in identity's database.

Each sign-in first reserves an attempt (one row for the account, one for the address) under a
lock per subject, so concurrent attempts on any replica are counted one after another and never
more than the limit get their password checked. The rows stay when the password is wrong, and
they are the failures counted; a successful sign-in deletes its own address row and every row of
its account.
"""

import math
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db import sign_in_attempts
from identity.settings import IdentitySettings
from shared.problems import Problem

ACCOUNT = "account"
ADDRESS = "address"


async def reserve_attempt(session: AsyncSession, settings: IdentitySettings, email: str, address: str) -> list[int]:
    """Commits the attempt's rows and returns their ids, or raises 429 with Retry-After."""
    window = timedelta(seconds=settings.sign_in_failure_window_seconds)
    limits = ((ACCOUNT, email, settings.sign_in_failures_per_account),
              (ADDRESS, address, settings.sign_in_failures_per_address))
    async with session.begin():
        for kind, subject, _ in limits:  # always account first, then address: no lock cycles
            await _lock(session, kind, subject)
        now = (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
        # Forget attempts older than the window; rows another sign-in holds are left for later.
        expired = (sa.select(sign_in_attempts.c.id).where(sign_in_attempts.c.attempted_at <= now - window)
                   .limit(1000).with_for_update(skip_locked=True))
        await session.execute(sa.delete(sign_in_attempts).where(sign_in_attempts.c.id.in_(expired.scalar_subquery())))
        waits = []
        for kind, subject, limit in limits:
            # The limit-th newest attempt in the window: once it leaves the window, one more may try.
            blocking = (await session.execute(
                sa.select(sign_in_attempts.c.attempted_at)
                .where(sign_in_attempts.c.kind == kind, sign_in_attempts.c.subject == subject,
                       sign_in_attempts.c.attempted_at > now - window)
                .order_by(sign_in_attempts.c.attempted_at.desc()).offset(limit - 1).limit(1)
            )).scalar_one_or_none()
            if blocking is not None:
                waits.append((kind, max(1, math.ceil((blocking + window - now).total_seconds()))))
        if waits:
            kind, seconds = max(waits, key=lambda wait: wait[1])
            source = "for this account" if kind == ACCOUNT else "from this address"
            raise Problem(429, f"Too many failed sign-ins {source}. Try again in {seconds} seconds.",
                          title="Too many sign-in attempts", headers={"Retry-After": str(seconds)})
        ids = (await session.execute(
            sa.insert(sign_in_attempts).returning(sign_in_attempts.c.id),
            [{"kind": kind, "subject": subject, "attempted_at": now} for kind, subject, _ in limits],
        )).scalars().all()
    return list(ids)


async def clear_after_success(session: AsyncSession, email: str, attempt_ids: list[int]) -> None:
    """In the sign-in's own transaction: the account starts afresh; the address keeps its failures."""
    await _lock(session, ACCOUNT, email)  # two sign-ins of one account delete its rows one after the other
    await session.execute(sa.delete(sign_in_attempts).where(sa.or_(
        sa.and_(sign_in_attempts.c.kind == ACCOUNT, sign_in_attempts.c.subject == email),
        sign_in_attempts.c.id.in_(attempt_ids),
    )))


async def _lock(session: AsyncSession, kind: str, subject: str) -> None:
    key = sa.func.hashtextextended(f"sign-in {kind} {subject}", 0)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
