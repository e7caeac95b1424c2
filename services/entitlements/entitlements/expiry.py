"""The expiry sweeper: a background worker that marks entitlements past their expiration date as
expired and tells their holders, and sends the "expiring soon" notices 30, 7 and 1 days before.

Safe with several replicas: entitlement rows are claimed with FOR UPDATE SKIP LOCKED, and a notice
is sent only by the transaction whose insert into expiry_notices (ON CONFLICT DO NOTHING) created
it, in the same transaction as the event: whatever the replicas, each event is recorded once.
"""

import asyncio
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import entitlement_lines, entitlements, expiry_notices, holdings
from entitlements.domain.expiry import NOTICE_DAYS, days_left, notices_due
from entitlements.ledger import today
from shared.cancellation import raise_if_cancelled
from shared.db import UnitOfWork
from shared.events.entitlements import EntitlementExpired, EntitlementExpiringSoon
from shared.logging import get_logger

log = get_logger(__name__)


async def expiry_worker(app) -> None:
    """Runs until cancelled (create_service_app restarts it if it fails)."""
    settings = app.state.settings
    while True:
        raise_if_cancelled()
        expired, notices = await sweep(app.state.session_factory, on=today(), batch_size=settings.expiry_batch_size)
        if expired or notices:
            log.info("expiry sweep", expired=expired, expiring_soon_notices=notices)
        await asyncio.sleep(settings.expiry_check_interval)


async def sweep(session_factory, *, on: date, batch_size: int = 200) -> tuple[int, int]:
    """One pass as of the day `on`: (entitlements expired, expiring-soon events recorded)."""
    expired = notices = 0
    while (done := await _expire_batch(session_factory, on, batch_size)) > 0:
        expired += done
        if done < batch_size:
            break
    while True:
        claimed, sent = await _notice_batch(session_factory, on, batch_size)
        notices += sent
        if claimed < batch_size:
            break
    return expired, notices


async def _expire_batch(session_factory, on: date, batch_size: int) -> int:
    async with UnitOfWork(session_factory, producer="entitlements") as uow:
        rows = (
            await uow.session.execute(
                sa.select(entitlements.c.id, entitlements.c.expiration_date)
                .where(entitlements.c.status != "expired", entitlements.c.expiration_date < on)
                .order_by(entitlements.c.expiration_date, entitlements.c.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        holders = await _holders(uow.session, [r.id for r in rows])
        await uow.session.execute(
            sa.update(entitlements).where(entitlements.c.id.in_([r.id for r in rows])).values(status="expired")
        )
        for row in rows:
            uow.record(
                EntitlementExpired(entitlement_id=row.id, expiration_date=row.expiration_date,
                                   holder_org_ids=holders[row.id]),
                visible_to=holders[row.id],
            )
        await uow.commit()
        return len(rows)


async def _notice_batch(session_factory, on: date, batch_size: int) -> tuple[int, int]:
    """(entitlements claimed, notices sent). A candidate has reached more thresholds than it has
    notices for."""
    sent_count = (
        sa.select(sa.func.count())
        .where(expiry_notices.c.entitlement_id == entitlements.c.id)
        .scalar_subquery()
    )
    reached_count = (
        sa.select(sa.func.count())
        .select_from(sa.func.unnest(sa.literal(list(NOTICE_DAYS), ARRAY(sa.Integer))).alias("threshold"))
        .where(entitlements.c.expiration_date - on <= sa.column("threshold"))
        .scalar_subquery()
    )
    async with UnitOfWork(session_factory, producer="entitlements") as uow:
        rows = (
            await uow.session.execute(
                sa.select(entitlements.c.id, entitlements.c.expiration_date)
                .where(
                    entitlements.c.status == "active",
                    entitlements.c.expiration_date >= on,
                    entitlements.c.expiration_date <= on + timedelta(days=max(NOTICE_DAYS)),
                    sent_count < reached_count,
                )
                .order_by(entitlements.c.expiration_date, entitlements.c.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0, 0
        holders = await _holders(uow.session, [r.id for r in rows])
        sent = 0
        for row in rows:
            due = notices_due(row.expiration_date, on)
            created = (
                await uow.session.execute(
                    insert(expiry_notices)
                    .values([{"entitlement_id": row.id, "days_before": d} for d in due])
                    .on_conflict_do_nothing()
                    .returning(expiry_notices.c.days_before)
                )
            ).scalars().all()
            if not created:
                continue  # another replica sent it
            uow.record(
                EntitlementExpiringSoon(entitlement_id=row.id, expiration_date=row.expiration_date,
                                        days_left=days_left(row.expiration_date, on), holder_org_ids=holders[row.id]),
                visible_to=holders[row.id],
            )
            sent += 1
        await uow.commit()
        return len(rows), sent


async def _holders(session: AsyncSession, entitlement_ids: list[str]) -> dict[str, list]:
    """The orgs that received any part of each entitlement (the distributor and those below it)."""
    rows = await session.execute(
        sa.select(entitlement_lines.c.entitlement_id, holdings.c.org_id)
        .join(holdings, holdings.c.line_id == entitlement_lines.c.id)
        .where(entitlement_lines.c.entitlement_id.in_(entitlement_ids), holdings.c.received > 0)
        .distinct()
        .order_by(entitlement_lines.c.entitlement_id, holdings.c.org_id)
    )
    holders: dict[str, list] = defaultdict(list)
    for entitlement_id, org_id in rows:
        holders[entitlement_id].append(org_id)
    return holders
