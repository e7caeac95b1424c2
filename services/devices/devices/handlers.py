"""The devices service's commands and its reactions to bus events: the only place its state
changes. Limits (devices per license, per license user, license users per license, resets per 30
days) are checked with the license's row locked (SELECT ... FOR UPDATE), so concurrent requests
on one license take turns and never pass a limit together."""

import asyncio
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert

from devices import passwords
from devices.db import devices, entitlement_expirations, license_users, licenses, products
from devices.domain.commands import ActivateDevice, AssignLicenseUser, ChangeLicenseUser
from devices.domain.keys import fingerprint_digest, key_digest, key_hint, new_initial_password, new_license_key
from devices.domain.licenses import (
    Code, Lifecycle, Rules, Status, Usage, activation_refusal, blocking_code, reset_window_start, resets_left,
    status_on)
from devices.settings import DevicesSettings
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bus.consumer import EventHandler
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.devices import (
    DeviceActivated, DeviceDeactivated, DeviceReset, LicenseCreated, LicenseReinstated, LicenseRevoked,
    LicenseSuspended, LicenseUserAssigned, LicenseUserChanged, LicenseUserPasswordSet, LicenseUserRemoved)
from shared.events.entitlements import (
    ActivationDeactivated, DeviceRules, EntitlementIssued, LicensesActivated, ProductCreated)
from shared.events.billing import SubscriptionPaused, SubscriptionResumed
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.org_directory import ORG_DIRECTORY_HANDLERS
from shared.problems import Problem

log = get_logger(__name__)

RULE_FIELDS = tuple(DeviceRules.model_fields)


class DeviceRefused(Exception):
    """The device API's answer to a request it refuses: a code of devices.domain.licenses."""

    def __init__(self, code: Code):
        super().__init__(code.value)
        self.code = code


def now() -> datetime:
    return datetime.now(UTC)


def lifecycle(row) -> Lifecycle:
    """Of a license row (by column name)."""
    return Lifecycle(expires_on=row["expires_on"], grace_period_days=row["grace_period_days"],
                     suspended=row["suspended"], paused=row["paused"], revoked=row["revoked_at"] is not None)


def license_status(row, today: date | None = None) -> Status:
    return status_on(lifecycle(row), today or now().date())


def rules(row) -> Rules:
    return Rules(max_devices=row["max_devices"], **{name: row[name] for name in RULE_FIELDS})


# --- reactions to entitlements' events -------------------------------------------------------------

async def product_created(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(ProductCreated)
    values = dict(name=event.name, license_type=event.license_type, **event.model_dump(include=set(RULE_FIELDS)))
    statement = insert(products).values(id=event.product_id, **values)
    await uow.session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


async def entitlement_issued(uow: UnitOfWork, envelope: Envelope) -> None:
    """The expiration date of the licenses of this entitlement (those made before it arrived too)."""
    event = envelope.payload_as(EntitlementIssued)
    statement = insert(entitlement_expirations).values(entitlement_id=event.entitlement_id,
                                                       expires_on=event.expiration_date)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=["entitlement_id"], set_={"expires_on": event.expiration_date}))
    await uow.session.execute(sa.update(licenses).where(licenses.c.entitlement_id == event.entitlement_id)
                              .values(expires_on=event.expiration_date))


async def licenses_activated(uow: UnitOfWork, envelope: Envelope, settings: DevicesSettings) -> None:
    """An activation becomes a license with a new key and its product's rules (the defaults for a
    product this service has not heard of). A redelivered activation makes no second license."""
    event = envelope.payload_as(LicensesActivated)
    product = (await uow.session.execute(sa.select(products).where(products.c.id == event.product_id))).one_or_none()
    product_rules = ({name: getattr(product, name) for name in RULE_FIELDS} if product is not None
                     else DeviceRules().model_dump())
    expires_on = await uow.session.scalar(sa.select(entitlement_expirations.c.expires_on).where(
        entitlement_expirations.c.entitlement_id == event.entitlement_id))
    key = new_license_key()
    license_id = uuid.uuid4()
    created = await uow.session.scalar(insert(licenses).values(
        id=license_id, key_digest=key_digest(settings.key_secret, key),
        key_sealed=settings.key_sealer.encrypt(key.encode()).decode(), key_hint=key_hint(key),
        org_id=event.org_id, activation_id=event.activation_id, entitlement_id=event.entitlement_id,
        product_id=event.product_id, product_name=event.product_name,
        license_type=product.license_type if product is not None else None, project_name=event.project_name,
        serial_number=event.serial_number, max_devices=event.quantity, expires_on=expires_on, **product_rules,
    ).on_conflict_do_nothing(index_elements=["activation_id"]).returning(licenses.c.id))
    if created is None:
        return
    uow.record(LicenseCreated(
        license_id=license_id, org_id=event.org_id, activation_id=event.activation_id,
        entitlement_id=event.entitlement_id, product_id=event.product_id, product_name=event.product_name,
        project_name=event.project_name, key_hint=key_hint(key), max_devices=event.quantity, expires_on=expires_on,
    ), visible_to=[event.org_id], actor_org_id=envelope.actor_org_id, actor_user_id=envelope.actor_user_id)


async def activation_deactivated(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(ActivationDeactivated)
    revoked = (await uow.session.execute(
        sa.update(licenses).where(licenses.c.activation_id == event.activation_id, licenses.c.revoked_at.is_(None))
        .values(revoked_at=envelope.occurred_at).returning(licenses.c.id, licenses.c.org_id))).one_or_none()
    if revoked is None:
        log.info("no unrevoked license for the deactivated activation", activation_id=str(event.activation_id))
        return
    uow.record(LicenseRevoked(license_id=revoked.id, org_id=revoked.org_id, activation_id=event.activation_id),
               visible_to=[revoked.org_id], actor_org_id=envelope.actor_org_id, actor_user_id=envelope.actor_user_id)


async def subscription_paused(uow: UnitOfWork, envelope: Envelope) -> None:
    """A paused subscription licence: its license's devices are told PAUSED when they validate."""
    await _set_paused(uow, envelope.payload_as(SubscriptionPaused).activation_id, True)


async def subscription_resumed(uow: UnitOfWork, envelope: Envelope) -> None:
    await _set_paused(uow, envelope.payload_as(SubscriptionResumed).activation_id, False)


async def _set_paused(uow: UnitOfWork, activation_id: uuid.UUID | None, paused: bool) -> None:
    if activation_id is None:  # not assigned yet: there is no license to pause
        return
    changed = (await uow.session.execute(
        sa.update(licenses).where(licenses.c.activation_id == activation_id).values(paused=paused)
        .returning(licenses.c.id))).first()
    if changed is None:
        log.warning("no license for the subscription licence's activation", activation_id=str(activation_id),
                    paused=paused)


def event_handlers(settings: DevicesSettings) -> dict[str, EventHandler]:
    async def activated(uow: UnitOfWork, envelope: Envelope) -> None:
        await licenses_activated(uow, envelope, settings)

    return {
        **ORG_DIRECTORY_HANDLERS,
        **MEMBER_TOKEN_HANDLERS,
        SubscriptionPaused.routing_key: subscription_paused,
        SubscriptionResumed.routing_key: subscription_resumed,
        ProductCreated.routing_key: product_created,
        EntitlementIssued.routing_key: entitlement_issued,
        LicensesActivated.routing_key: activated,
        ActivationDeactivated.routing_key: activation_deactivated,
    }


# --- the device API ---------------------------------------------------------------------------------

async def _locked_license(uow: UnitOfWork, *conditions):
    return (await uow.session.execute(sa.select(licenses).where(*conditions).with_for_update())
            ).mappings().one_or_none()


async def _license_user_by_credentials(uow: UnitOfWork, digest: bytes, email: str, password: str):
    """The license user these credentials name on the license, or None. The password is checked
    (in a worker thread) even when no user matches, so both misses cost the same."""
    user = (await uow.session.execute(
        sa.select(license_users).join(licenses, licenses.c.id == license_users.c.license_id)
        .where(licenses.c.key_digest == digest, sa.func.lower(license_users.c.email) == email.lower()))).one_or_none()
    valid = await asyncio.to_thread(passwords.matches, password, user.password_hash if user else passwords.decoy())
    return user if valid else None


async def _active_device_count(uow: UnitOfWork, license_id: uuid.UUID, user_id: uuid.UUID | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(devices).where(devices.c.license_id == license_id,
                                                                  devices.c.status == "active")
    if user_id is not None:
        query = query.where(devices.c.license_user_id == user_id)
    return await uow.session.scalar(query)


async def activate_device(uow: UnitOfWork, settings: DevicesSettings, command: ActivateDevice) -> tuple[dict, bool]:
    """The device, and whether it is new; the same fingerprint again gives the same device.
    DeviceRefused when the license does not let it in."""
    digest = key_digest(settings.key_secret, command.key)
    user = None
    if command.user_email is not None:
        user = await _license_user_by_credentials(uow, digest, command.user_email, command.user_password or "")
        if user is None:
            raise DeviceRefused(Code.NOT_FOUND)
    license = await _locked_license(uow, licenses.c.key_digest == digest)
    if license is None:
        raise DeviceRefused(Code.NOT_FOUND)
    if user is not None:  # read again under the lock: removed or given another cap meanwhile
        user = (await uow.session.execute(sa.select(license_users).where(license_users.c.id == user.id))).one_or_none()
        if user is None:
            raise DeviceRefused(Code.NOT_FOUND)
    status = license_status(license)
    fingerprint = fingerprint_digest(settings.key_secret, command.fingerprint)
    existing = (await uow.session.execute(sa.select(devices).where(
        devices.c.license_id == license["id"], devices.c.fingerprint_digest == fingerprint,
        devices.c.status == "active"))).mappings().one_or_none()
    if existing is not None:
        blocked = blocking_code(status)
        if blocked is not None:
            raise DeviceRefused(blocked)
        return dict(existing), False
    if user is None and await uow.session.scalar(
            sa.select(sa.func.count()).select_from(license_users).where(license_users.c.license_id == license["id"])):
        raise DeviceRefused(Code.NOT_FOUND)  # a license with users takes a user's credentials
    usage = Usage(active_devices=await _active_device_count(uow, license["id"]),
                  user_devices=await _active_device_count(uow, license["id"], user.id) if user else None,
                  user_cap=user.activation_cap if user else None)
    refusal = activation_refusal(status, rules(license), usage, command.virtual_machine)
    if refusal is not None:
        raise DeviceRefused(refusal)
    moment = now()
    device = (await uow.session.execute(sa.insert(devices).values(
        id=uuid.uuid4(), license_id=license["id"], fingerprint_digest=fingerprint, name=command.name,
        platform=command.platform, hostname=command.hostname, virtual_machine=command.virtual_machine,
        license_user_id=user.id if user else None, user_email=user.email if user else None, activated_at=moment,
    ).returning(devices))).mappings().one()
    if license["first_activated_at"] is None:
        await uow.session.execute(sa.update(licenses).where(licenses.c.id == license["id"])
                                  .values(first_activated_at=moment))
    uow.record(DeviceActivated(
        device_id=device["id"], license_id=license["id"], org_id=license["org_id"], name=command.name,
        platform=command.platform, hostname=command.hostname, user_email=device["user_email"],
        active_devices=usage.active_devices + 1, max_devices=license["max_devices"],
    ), visible_to=[license["org_id"]], actor_org_id=license["org_id"])
    return dict(device), True


async def deactivate_device(uow: UnitOfWork, settings: DevicesSettings, key: str, fingerprint: str) -> None:
    """The licensed software releases its own device: the slot is free, the reset budget untouched."""
    digest = key_digest(settings.key_secret, key)
    released = (await uow.session.execute(
        sa.update(devices).where(devices.c.license_id == licenses.c.id, licenses.c.key_digest == digest,
                                 devices.c.fingerprint_digest == fingerprint_digest(settings.key_secret, fingerprint),
                                 devices.c.status == "active")
        .values(status="deactivated", released_at=now())
        .returning(devices.c.id, devices.c.license_id, licenses.c.org_id))).one_or_none()
    if released is None:
        known = await uow.session.scalar(sa.select(licenses.c.id).where(licenses.c.key_digest == digest))
        raise DeviceRefused(Code.DEVICE_NOT_ACTIVATED if known else Code.NOT_FOUND)
    uow.record(DeviceDeactivated(device_id=released.id, license_id=released.license_id, org_id=released.org_id),
               visible_to=[released.org_id], actor_org_id=released.org_id)


_RECORD_VALIDATIONS = DriverStatement(sa.text(
    "UPDATE devices d SET last_validated_at = v.at FROM unnest(:ids, :moments) AS v(id, at)"
    " WHERE d.id = v.id AND (d.last_validated_at IS NULL OR d.last_validated_at < v.at)"
).bindparams(*array_params(ids=UUID(as_uuid=True), moments=sa.DateTime(timezone=True))))


async def record_validations(uow: UnitOfWork, seen: dict[uuid.UUID, datetime]) -> None:
    """The last validation of each device validated since the previous write: one statement for
    all of them (a validation itself writes nothing)."""
    if seen:
        await uow.execute(_RECORD_VALIDATIONS, {"ids": list(seen), "moments": list(seen.values())})


# --- the member API (an end customer's Admin) ----------------------------------------------------

async def _owned_license(uow: UnitOfWork, org_id: uuid.UUID, license_id: uuid.UUID):
    license = await _locked_license(uow, licenses.c.id == license_id, licenses.c.org_id == org_id)
    if license is None:
        raise Problem(404, f"No license with id {license_id}.")
    return license


async def set_suspended(uow: UnitOfWork, org_id: uuid.UUID, license_id: uuid.UUID, suspended: bool) -> None:
    license = await _owned_license(uow, org_id, license_id)
    if license["revoked_at"] is not None:
        raise Problem(409, "The license is revoked: its activation was deactivated.")
    if license["suspended"] == suspended:
        return
    await uow.session.execute(sa.update(licenses).where(licenses.c.id == license_id).values(suspended=suspended))
    event = LicenseSuspended if suspended else LicenseReinstated
    uow.record(event(license_id=license_id, org_id=org_id), visible_to=[org_id])


async def _resets_in_window(uow: UnitOfWork, license_id: uuid.UUID) -> int:
    return await uow.session.scalar(sa.select(sa.func.count()).select_from(devices).where(
        devices.c.license_id == license_id, devices.c.status == "reset",
        devices.c.released_at > reset_window_start(now())))


async def _reset(uow: UnitOfWork, license, device_ids: list[uuid.UUID], *, within_budget: bool,
                 user_id: uuid.UUID | None = None) -> int:
    """Resets the given active devices of a locked license; with `within_budget`, only if the
    resets of the last 30 days leave room for all of them (else a 409 and nothing reset)."""
    if not device_ids:
        return 0
    if within_budget:
        left = resets_left(license["device_resets_per_30_days"], await _resets_in_window(uow, license["id"]))
        if len(device_ids) > left:
            raise Problem(409, f"The license allows {license['device_resets_per_30_days']} device resets per 30 days;"
                               f" {left} left, {len(device_ids)} needed. Try again later.")
    await uow.session.execute(sa.update(devices).where(devices.c.id.in_(device_ids))
                              .values(status="reset", released_at=now()))
    for device_id in device_ids:
        uow.record(DeviceReset(device_id=device_id, license_id=license["id"], org_id=license["org_id"],
                               license_user_id=user_id), visible_to=[license["org_id"]])
    return len(device_ids)


async def _license_holding(uow: UnitOfWork, org_id: uuid.UUID, table: sa.Table, row_id: uuid.UUID, noun: str):
    """The org's license (locked) that the row of `table` (devices, license_users) belongs to; a
    404 naming `noun` when there is no such row on a license of the org."""
    license_id = await uow.session.scalar(
        sa.select(table.c.license_id).join(licenses, licenses.c.id == table.c.license_id)
        .where(table.c.id == row_id, licenses.c.org_id == org_id))
    if license_id is None:
        raise Problem(404, f"No {noun} with id {row_id}.")
    return await _owned_license(uow, org_id, license_id)


async def reset_device(uow: UnitOfWork, org_id: uuid.UUID, device_id: uuid.UUID) -> None:
    license = await _license_holding(uow, org_id, devices, device_id, "device")
    status = await uow.session.scalar(sa.select(devices.c.status).where(devices.c.id == device_id))
    if status != "active":
        raise Problem(409, f"The device is not active (it is {status}): there is nothing to reset.")
    await _reset(uow, license, [device_id], within_budget=True)


async def _user_of_org(uow: UnitOfWork, org_id: uuid.UUID, user_id: uuid.UUID):
    """The license user and its license (locked), when the license is the org's; else a 404."""
    license = await _license_holding(uow, org_id, license_users, user_id, "license user")
    user = (await uow.session.execute(sa.select(license_users).where(license_users.c.id == user_id))
            ).mappings().one()
    return user, license


def _check_cap(cap: int, license) -> None:
    if cap > license["max_devices"]:
        raise Problem(422, f"activation_cap: at most the license's {license['max_devices']} devices.")


async def _email_taken(uow: UnitOfWork, license_id: uuid.UUID, email: str, but: uuid.UUID | None = None) -> bool:
    query = sa.select(license_users.c.id).where(license_users.c.license_id == license_id,
                                               sa.func.lower(license_users.c.email) == email.lower())
    if but is not None:
        query = query.where(license_users.c.id != but)
    return await uow.session.scalar(query) is not None


async def assign_license_user(uow: UnitOfWork, command: AssignLicenseUser) -> tuple[dict, str]:
    """The new license user and its initial password (given once; notify mails it)."""
    license = await _owned_license(uow, command.org_id, command.license_id)
    if license["revoked_at"] is not None:
        raise Problem(409, "The license is revoked: its activation was deactivated.")
    users = await uow.session.scalar(sa.select(sa.func.count()).select_from(license_users)
                                     .where(license_users.c.license_id == license["id"]))
    if users >= license["max_license_users"]:
        raise Problem(409, f"The license allows {license['max_license_users']} license users, and has them all:"
                           " remove one first.")
    cap = command.activation_cap or min(license["default_user_activation_cap"], license["max_devices"])
    _check_cap(cap, license)
    if await _email_taken(uow, license["id"], command.email):
        raise Problem(409, f"{command.email} is already a user of this license.")
    password = new_initial_password()
    user = (await uow.session.execute(sa.insert(license_users).values(
        id=uuid.uuid4(), license_id=license["id"], email=command.email, name=command.name,
        password_hash=await asyncio.to_thread(passwords.hashed, password), activation_cap=cap,
    ).returning(license_users))).mappings().one()
    uow.record(LicenseUserAssigned(
        license_user_id=user["id"], license_id=license["id"], org_id=license["org_id"], email=user["email"],
        name=user["name"], activation_cap=cap, product_name=license["product_name"],
        project_name=license["project_name"], initial_password=password,
    ), visible_to=[license["org_id"]])
    return dict(user), password


async def change_license_user(uow: UnitOfWork, command: ChangeLicenseUser) -> dict:
    user, license = await _user_of_org(uow, command.org_id, command.license_user_id)
    changes = {}
    if command.email is not None and command.email.lower() != user["email"].lower():
        if await _email_taken(uow, license["id"], command.email, but=user["id"]):
            raise Problem(409, f"{command.email} is already a user of this license.")
        changes["email"] = command.email
    if command.name is not None:
        changes["name"] = command.name
    if command.activation_cap is not None:
        _check_cap(command.activation_cap, license)
        changes["activation_cap"] = command.activation_cap
    if not changes:
        return dict(user)
    changed = (await uow.session.execute(sa.update(license_users).where(license_users.c.id == user["id"])
                                         .values(**changes).returning(license_users))).mappings().one()
    uow.record(LicenseUserChanged(license_user_id=user["id"], license_id=license["id"], org_id=license["org_id"],
                                  email=changed["email"], name=changed["name"],
                                  activation_cap=changed["activation_cap"]),
               visible_to=[license["org_id"]])
    return dict(changed)


async def set_license_user_password(uow: UnitOfWork, org_id: uuid.UUID, user_id: uuid.UUID,
                                    password: str | None) -> str:
    """The new password (the one given, or a new random one)."""
    user, license = await _user_of_org(uow, org_id, user_id)
    password = password or new_initial_password()
    await uow.session.execute(sa.update(license_users).where(license_users.c.id == user["id"]).values(
        password_hash=await asyncio.to_thread(passwords.hashed, password)))
    uow.record(LicenseUserPasswordSet(license_user_id=user["id"], license_id=license["id"], org_id=org_id,
                                      email=user["email"], product_name=license["product_name"],
                                      project_name=license["project_name"], password=password),
               visible_to=[org_id])
    return password


async def _active_devices_of_user(uow: UnitOfWork, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await uow.session.scalars(sa.select(devices.c.id).where(devices.c.license_user_id == user_id,
                                                                        devices.c.status == "active")))


async def reset_license_user(uow: UnitOfWork, org_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Resets every active device of the user (each counts against the reset budget)."""
    user, license = await _user_of_org(uow, org_id, user_id)
    return await _reset(uow, license, await _active_devices_of_user(uow, user["id"]), within_budget=True,
                        user_id=user["id"])


async def remove_license_user(uow: UnitOfWork, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Removes the user and resets its devices, to make room for others. The resets are recorded
    but not refused for want of budget: removing a person must always be possible."""
    user, license = await _user_of_org(uow, org_id, user_id)
    reset = await _reset(uow, license, await _active_devices_of_user(uow, user["id"]), within_budget=False,
                         user_id=user["id"])
    await uow.session.execute(sa.delete(license_users).where(license_users.c.id == user["id"]))
    uow.record(LicenseUserRemoved(license_user_id=user["id"], license_id=license["id"], org_id=org_id,
                                  email=user["email"], devices_reset=reset), visible_to=[org_id])
