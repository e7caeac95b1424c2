"""The validation path: one indexed read of the license and the device, no write. Each
validation is noted in memory and the latest per device is written every few seconds in one
statement (handlers.record_validations), so thousands of devices validating never queue on a
row lock or a commit per call."""

import asyncio
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from devices.db import devices, licenses
from devices.handlers import record_validations
from shared.db import DriverStatement, UnitOfWork, driver_connection
from shared.logging import get_logger

log = get_logger(__name__)

LICENSE_COLUMNS = (licenses.c.id, licenses.c.org_id, licenses.c.product_id, licenses.c.product_name,
                   licenses.c.license_type, licenses.c.entitlement_id, licenses.c.key_hint, licenses.c.max_devices,
                   licenses.c.max_license_users, licenses.c.default_user_activation_cap,
                   licenses.c.grace_period_days, licenses.c.virtual_machines_allowed, licenses.c.offline_allowed,
                   licenses.c.device_resets_per_30_days, licenses.c.expires_on, licenses.c.suspended,
                   licenses.c.paused, licenses.c.revoked_at)
DEVICE_COLUMNS = (devices.c.id.label("device_id"), devices.c.name.label("device_name"), devices.c.platform,
                  devices.c.hostname, devices.c.user_email, devices.c.activated_at, devices.c.last_validated_at)

# A hit and a miss run the same statement: the key's digest through the unique index.
LICENSE_AND_DEVICE = DriverStatement(
    sa.select(*LICENSE_COLUMNS, *DEVICE_COLUMNS)
    .select_from(licenses.outerjoin(devices, sa.and_(
        devices.c.license_id == licenses.c.id, devices.c.fingerprint_digest == sa.bindparam("fingerprint"),
        devices.c.status == "active")))
    .where(licenses.c.key_digest == sa.bindparam("key"))
)


async def license_and_device(engine, key: bytes, fingerprint: bytes):
    """The license of the key digest and its active device of the fingerprint digest (None: no
    such license; device_id None: no such active device)."""
    async with driver_connection(engine) as connection:
        rows = await connection.fetch(LICENSE_AND_DEVICE, {"key": key, "fingerprint": fingerprint})
    return rows[0] if rows else None


class ValidationLog:
    """The devices validated since the last write, with the time of their latest validation."""

    def __init__(self):
        self._seen: dict[uuid.UUID, datetime] = {}

    def saw(self, device_id: uuid.UUID) -> None:
        self._seen[device_id] = datetime.now(UTC)

    def take(self) -> dict[uuid.UUID, datetime]:
        seen, self._seen = self._seen, {}
        return seen

    def give_back(self, seen: dict[uuid.UUID, datetime]) -> None:
        """A write that failed: its validations wait for the next one (newer ones win)."""
        self._seen = {**seen, **self._seen}

    async def write(self, session_factory) -> int:
        seen = self.take()
        if not seen:
            return 0
        try:
            async with UnitOfWork(session_factory, producer="devices") as uow:
                await record_validations(uow, seen)
                await uow.commit()
        except BaseException:
            self.give_back(seen)
            raise
        return len(seen)


async def write_validations_periodically(app) -> None:
    """A background worker of the app: the validation log written every few seconds, and once
    more when the app stops (what is lost in a crash is only the latest validation times)."""
    validations: ValidationLog = app.state.validations
    try:
        while True:
            await asyncio.sleep(app.state.settings.validation_flush_interval)
            await validations.write(app.state.session_factory)
    finally:
        try:
            await validations.write(app.state.session_factory)
        except Exception as error:  # stopping: say what is lost, do not hold the shutdown
            log.warning("last validations not written", error=repr(error))
