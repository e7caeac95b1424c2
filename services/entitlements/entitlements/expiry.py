"""The expiry sweeper: a background worker that marks entitlements past their expiration date as
expired and tells their holders, and sends the "expiring soon" notices 30, 7 and 1 days before.

Safe with several replicas: entitlement rows are claimed with FOR UPDATE SKIP LOCKED, and a notice
is sent only by the transaction whose insert into expiry_notices (ON CONFLICT DO NOTHING) created
it, in the same transaction as the event: whatever the replicas, each event is recorded once.
"""

import asyncio
from datetime import date

from entitlements import handlers
from entitlements.ledger import today
from shared.cancellation import raise_if_cancelled
from shared.db import UnitOfWork
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
        expired = await handlers.expire_entitlements(uow, on=on, batch_size=batch_size)
        await uow.commit()
    return expired


async def _notice_batch(session_factory, on: date, batch_size: int) -> tuple[int, int]:
    async with UnitOfWork(session_factory, producer="entitlements") as uow:
        claimed, sent = await handlers.send_expiring_soon(uow, on=on, batch_size=batch_size)
        await uow.commit()
    return claimed, sent
