"""The background worker that resumes pauses on their resume date and renews periods."""

import asyncio

from fastapi import FastAPI

from billing.handlers import run_lifecycle, today
from shared.db import UnitOfWork


async def lifecycle_pass(app: FastAPI) -> int:
    async with UnitOfWork(app.state.session_factory, producer="billing") as uow:
        changed = await run_lifecycle(uow, today())
        await uow.commit()
    return changed


async def lifecycle_worker(app: FastAPI) -> None:
    while True:
        await lifecycle_pass(app)
        await asyncio.sleep(app.state.settings.lifecycle_check_interval)
