"""The checker: after the load stopped and the system drained, it reads every service's database,
the broker's dead-letter queues and the mail sink's Maildir, and says for each promise whether it
held, with its numbers. These checks cover the whole run's databases (every seed run on them so
far); `client_checks` covers what one seed's clients were told."""

import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.chaos.faults import rabbitmqctl
from bench.chaos.load import LoadResult
from bench.system_run import RunningSystem, connect, pg
from entitlements.ledger import unconserved_lines
from shared.devtools import SERVICES_WITH_DATABASE

# The events notify sends mail for, in a run without expiring entitlements.
MAILED_EVENTS = ("identity.invite.created", "identity.invite.resent", "identity.member.created",
                 "entitlements.transfer.completed", "entitlements.transfer.rejected",
                 "devices.license_user.assigned")
OUTCOME_EVENTS = ("entitlements.transfer.completed", "entitlements.transfer.rejected")


@dataclass
class Check:
    name: str
    numbers: dict[str, object]
    # the numbers that must be zero for the check to pass
    must_be_zero: tuple[str, ...]
    examples: list[str] = field(default_factory=list)  # a few offending ids, to start an investigation

    @property
    def ok(self) -> bool:
        return all(not self.numbers[name] for name in self.must_be_zero)


async def _fetch(system: RunningSystem, service: str, query: str, *args) -> list[asyncpg.Record]:
    conn = await connect(pg(system.infra, service))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def conservation(system: RunningSystem) -> Check:
    engine = create_async_engine(system.infra.database_url("entitlements"))
    try:
        async with AsyncSession(engine) as session:
            off = await unconserved_lines(session)
    finally:
        await engine.dispose()
    (totals,) = await _fetch(system, "entitlements",
                             "SELECT (SELECT count(*) FROM entitlement_lines) AS lines,"
                             " (SELECT count(*) FROM holdings WHERE available < 0) AS negative,"
                             " (SELECT coalesce(sum(quantity), 0) FROM reservations WHERE status = 'reserved') AS reserved")
    # unconserved_lines: holdings + reserved (subscription licences not yet a customer's) + active
    # activations == issued, on every line
    return Check("conservation", {"lines": totals["lines"], "reserved": totals["reserved"],
                                  "lines not conserved": len(off),
                                  "negative holdings": totals["negative"]},
                 ("lines not conserved", "negative holdings"), [str(row) for row in off[:3]])


async def transfers_and_ledger(system: RunningSystem) -> Check:
    requests = {row["id"]: row
                for row in await _fetch(system, "transfers", "SELECT id, status, quantity FROM transfers")}
    entries = {row["transfer_id"]: row for row in await _fetch(system, "entitlements", """
        SELECT transfer_id, count(*) AS entries,
               count(*) FILTER (WHERE kind = 'transfer_out') AS outs,
               count(*) FILTER (WHERE kind = 'transfer_in') AS ins,
               coalesce(sum(quantity) FILTER (WHERE kind = 'transfer_in'), 0) AS moved,
               coalesce(sum(quantity), 0) AS net
        FROM ledger_entries WHERE transfer_id IS NOT NULL GROUP BY transfer_id""")}
    outcomes: dict[uuid.UUID, list[str]] = {}
    for row in await _fetch(system, "entitlements", "SELECT routing_key, body->'payload'->>'transfer_id' AS transfer_id"
                            " FROM outbox WHERE routing_key = ANY($1)", list(OUTCOME_EVENTS)):
        outcomes.setdefault(uuid.UUID(row["transfer_id"]), []).append(row["routing_key"].rsplit(".", 1)[1])
    status = Counter(row["status"] for row in requests.values())
    wrong_entries, wrong_outcome = [], []
    for transfer_id, row in requests.items():
        booked = entries.get(transfer_id)
        if row["status"] == "completed":
            # one entry out, one in, of the transfer's quantity
            good = booked is not None and booked["moved"] == row["quantity"] \
                and (booked["entries"], booked["outs"], booked["ins"], booked["net"]) == (2, 1, 1, 0)
        else:
            good = booked is None
        if not good:
            wrong_entries.append(str(transfer_id))
        if row["status"] != "pending" and outcomes.get(transfer_id) != [row["status"]]:
            wrong_outcome.append(str(transfer_id))
    unknown = [str(t) for t in entries.keys() - requests.keys()]
    return Check("transfers and ledger", {
        "transfers": len(requests), "completed": status["completed"], "rejected": status["rejected"],
        "left pending": status["pending"], "wrong ledger entries": len(wrong_entries),
        "outcome events not exactly one": len(wrong_outcome), "ledger entries of unknown transfers": len(unknown)},
        ("left pending", "wrong ledger entries", "outcome events not exactly one",
         "ledger entries of unknown transfers"),
        (wrong_entries + wrong_outcome + unknown)[:3])


async def device_limits(system: RunningSystem) -> Check:
    """Read in the devices database: no license has more active devices than it allows, no license
    user more than its cap, no license more users than it allows; and no activation on the way
    (each announced how many devices its license had then) went past the license's limit."""
    (row,) = await _fetch(system, "devices", """
        WITH used AS (SELECT license_id, count(*) AS active FROM devices WHERE status = 'active' GROUP BY license_id),
             per_user AS (SELECT license_user_id, count(*) AS active FROM devices
                          WHERE status = 'active' AND license_user_id IS NOT NULL GROUP BY license_user_id),
             users AS (SELECT license_id, count(*) AS users FROM license_users GROUP BY license_id)
        SELECT (SELECT count(*) FROM licenses) AS licenses,
               (SELECT count(*) FROM devices) AS devices,
               (SELECT count(*) FROM devices WHERE status = 'active') AS active,
               (SELECT count(*) FROM devices WHERE status = 'reset') AS reset,
               (SELECT count(*) FROM license_users) AS users,
               (SELECT count(*) FROM outbox WHERE routing_key = 'devices.device.activated'
                AND (body->'payload'->>'active_devices')::int > (body->'payload'->>'max_devices')::int) AS past,
               (SELECT count(*) FROM licenses l JOIN used ON used.license_id = l.id
                WHERE used.active = l.max_devices) AS full,
               (SELECT array_agg(l.id::text) FROM licenses l JOIN used ON used.license_id = l.id
                WHERE used.active > l.max_devices) AS over_license,
               (SELECT array_agg(u.id::text) FROM license_users u JOIN per_user p ON p.license_user_id = u.id
                WHERE p.active > u.activation_cap) AS over_cap,
               (SELECT array_agg(l.id::text) FROM licenses l JOIN users ON users.license_id = l.id
                WHERE users.users > l.max_license_users) AS over_users""")
    over_license, over_cap, over_users = (row[name] or [] for name in ("over_license", "over_cap", "over_users"))
    return Check("device limits", {
        "licenses": row["licenses"], "devices": row["devices"], "active": row["active"], "reset": row["reset"],
        "licenses full": row["full"], "license users": row["users"],
        "licenses over their device limit": len(over_license), "activations past the limit": row["past"],
        "users over their cap": len(over_cap), "licenses over their user limit": len(over_users)},
        ("licenses over their device limit", "activations past the limit", "users over their cap",
         "licenses over their user limit"),
        (over_license + over_cap + over_users)[:3])


async def licenses_of_activations(system: RunningSystem) -> Check:
    """Every activation became one license of its quantity, a deactivated one a revoked license,
    and a license is paused exactly while its subscription licence is."""
    activations = {row["id"]: row for row in await _fetch(
        system, "entitlements", "SELECT id, quantity, status FROM activations")}
    licenses = {row["activation_id"]: row for row in await _fetch(
        system, "devices", "SELECT activation_id, max_devices, revoked_at IS NOT NULL AS revoked, paused FROM licenses")}
    paused = {row["activation_id"]: row["paused"] for row in await _fetch(
        system, "billing", "SELECT activation_id, paused FROM subscriptions WHERE activation_id IS NOT NULL")}
    missing = [str(a) for a in activations.keys() - licenses.keys()]
    strangers = [str(a) for a in licenses.keys() - activations.keys()]
    wrong = [str(a) for a, row in activations.items() if a in licenses and (
        licenses[a]["max_devices"] != row["quantity"] or licenses[a]["revoked"] != (row["status"] != "active"))]
    unpaused = [str(a) for a, is_paused in paused.items() if a in licenses and licenses[a]["paused"] != is_paused]
    return Check("licenses of activations", {
        "activations": len(activations), "licenses": len(licenses), "of subscription licences": len(paused),
        "paused": sum(paused.values()), "activations without license": len(missing),
        "licenses of no activation": len(strangers), "wrong device limit or revocation": len(wrong),
        "paused in billing, not in devices (or back)": len(unpaused)},
        ("activations without license", "licenses of no activation", "wrong device limit or revocation",
         "paused in billing, not in devices (or back)"),
        (missing + strangers + wrong + unpaused)[:3])


# Billing's view of a licence -> the ledger's reservation status it must have.
_LEDGER_STATUS = {"rejected": None, "deleted": "released", "assigned": "converted", "unassigned": "reserved"}


def _billing_state(row) -> str:
    if row["reservation"] != "reserved":
        return row["reservation"]  # pending, rejected
    if row["deleted_at"] is not None:
        return "deleted"
    return "assigned" if row["customer_org_id"] is not None else "unassigned"


async def reservations(system: RunningSystem) -> Check:
    """Every subscription licence's reservation reached a final state (made, rejected, converted,
    released), and billing and the ledger agree on it: the same quantity, the same customer and
    activation."""
    licences = await _fetch(system, "billing", "SELECT id, seller_org_id, quantity, reservation, customer_org_id,"
                                                " activation_id, deleted_at FROM subscriptions")
    ledger = {row["subscription_id"]: row for row in await _fetch(
        system, "entitlements", "SELECT subscription_id, seller_org_id, quantity, status, customer_org_id,"
                                " activation_id FROM reservations")}
    states = Counter(_billing_state(row) for row in licences)
    disagree = []
    for row in licences:
        state, booked = _billing_state(row), ledger.get(row["id"])
        if state == "pending":
            continue
        expected = _LEDGER_STATUS[state]
        if expected is None:
            good = booked is None
        else:
            good = booked is not None and booked["status"] == expected and (
                booked["seller_org_id"], booked["quantity"]) == (row["seller_org_id"], row["quantity"])
            if good and expected == "converted":
                good = (booked["customer_org_id"], booked["activation_id"]) == (
                    row["customer_org_id"], row["activation_id"])
        if not good:
            disagree.append(f"{row['id']} ({state}; ledger {booked and booked['status']})")
    unknown = [str(i) for i in ledger.keys() - {row["id"] for row in licences}]
    return Check("reservations", {
        "licences": len(licences), **{name: states[name] for name in ("unassigned", "assigned", "deleted", "rejected")},
        "left pending": states["pending"], "billing and ledger disagree": len(disagree),
        "reservations of unknown licences": len(unknown)},
        ("left pending", "billing and ledger disagree", "reservations of unknown licences"),
        (disagree + unknown)[:3])


async def published_events(system: RunningSystem) -> dict[uuid.UUID, str]:
    """Every event the services recorded in their outboxes: event id -> routing key."""
    events = {}
    for service in SERVICES_WITH_DATABASE:
        for row in await _fetch(system, service, "SELECT event_id, routing_key FROM outbox"):
            events[row["event_id"]] = row["routing_key"]
    return events


async def unpublished_count(system: RunningSystem) -> int:
    total = 0
    for service in SERVICES_WITH_DATABASE:
        (row,) = await _fetch(system, service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
        total += row["n"]
    return total


async def audit(system: RunningSystem, events: dict[uuid.UUID, str]) -> Check:
    audited = {row["event_id"] for row in await _fetch(system, "audit", "SELECT event_id FROM audit_events")}
    doubled = await _fetch(system, "audit", "SELECT org_id, event_id FROM audit_chain GROUP BY org_id, event_id"
                                            " HAVING count(*) > 1")
    lost, unexpected = events.keys() - audited, audited - events.keys()
    return Check("audit", {"events published": len(events), "audited": len(audited), "lost": len(lost),
                           "duplicated": len(doubled), "unexpected": len(unexpected),
                           "unpublished outbox rows": await unpublished_count(system)},
                 ("lost", "duplicated", "unexpected", "unpublished outbox rows"),
                 [f"{e} {events.get(e, '?')}" for e in list(lost)[:3]] + [str(e) for e in list(unexpected)[:3]])


# A mail's first copy can reach the sink this long before notify records it as sent.
SEND_TO_RECORD_WINDOW = 2.0


def mails_by_notification(mail_dir: Path) -> dict[str, list[float]]:
    """When the sink stored each mail (file times), per notification id: the Message-ID is
    <event id.notification id@...>."""
    arrivals: dict[str, list[float]] = {}
    parser = BytesHeaderParser()
    for path in [*(mail_dir / "new").iterdir(), *(mail_dir / "cur").iterdir()]:
        with path.open("rb") as stream:
            message_id = parser.parse(stream).get("Message-ID", "")
        notification = message_id.strip("<>").split("@")[0].rpartition(".")[2] or f"no Message-ID ({path.name})"
        arrivals.setdefault(notification, []).append(path.stat().st_mtime)
    return arrivals


def resent_after_a_crash(arrivals: list[float], notify_kills: list[float]) -> bool:
    """SMTP has no idempotency key: notify killed between the server's 250 and recording it sends
    that mail again (at-least-once, services/notify/notify/sender.py). A second copy is that when
    notify was killed just after the first copy arrived and before the next one."""
    first, *later = sorted(arrivals)
    return len(later) == 1 and any(first <= kill <= first + SEND_TO_RECORD_WINDOW and kill <= later[0]
                                   for kill in notify_kills)


async def notifications(system: RunningSystem, events: dict[uuid.UUID, str]) -> Check:
    rows = await _fetch(system, "notify", "SELECT id, event_id, recipient, state FROM notifications")
    mails = mails_by_notification(system.mail_dir)
    ids = {str(row["id"]) for row in rows}
    noticed = {row["event_id"] for row in rows}
    unmailed = [e for e, key in events.items() if key in MAILED_EVENTS and e not in noticed]
    state = Counter(row["state"] for row in rows)
    missing = [str(row["id"]) for row in rows if row["state"] == "sent" and str(row["id"]) not in mails]
    kills = [at for process, at in system.kills if process == "notify"]
    repeated = {i: times for i, times in mails.items() if len(times) > 1}
    crash_resent = [i for i, times in repeated.items() if resent_after_a_crash(times, kills)]
    doubled = [f"{len(times)} x {i}" for i, times in repeated.items() if i not in crash_resent]
    strangers = [i for i in mails if i not in ids]
    return Check("notifications", {
        "mailed events": sum(1 for key in events.values() if key in MAILED_EVENTS), "notifications": len(rows),
        "mails at the sink": sum(map(len, mails.values())), "events without notification": len(unmailed),
        "not sent (queued)": state["queued"], "failed": state["failed"], "sent but not at the sink": len(missing),
        "more than one mail": len(doubled), "mails of no notification": len(strangers),
        "resent as notify was killed after the 250": len(crash_resent)},
        ("events without notification", "not sent (queued)", "failed", "sent but not at the sink",
         "more than one mail", "mails of no notification"),
        ([str(e) for e in unmailed] + missing + doubled + strangers)[:3])


async def dead_letters(system: RunningSystem) -> Check:
    listing = await rabbitmqctl("list_queues", "-p", system.infra.vhost, "name", "messages")
    rows = (line.split("\t") for line in listing.splitlines())
    counts = {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}
    dead = {name: n for name, n in counts.items() if name.endswith(".dead-letter") and n}
    return Check("dead letters", {"messages in dead-letter queues": sum(dead.values())},
                 ("messages in dead-letter queues",), [f"{name}: {n}" for name, n in dead.items()])


async def client_checks(system: RunningSystem, load: LoadResult, org_ids: list[str], canary_ids: set[str]) -> Check:
    """What the seed's clients were told agrees with what the services did."""
    orgs = [uuid.UUID(i) for i in org_ids]
    transfers = await _fetch(system, "transfers", "SELECT id, status FROM transfers WHERE from_org_id = ANY($1)", orgs)
    # an activation the ledger made of a subscription licence was not asked for by a client
    activations = await _fetch(system, "entitlements", "SELECT id FROM activations WHERE org_id = ANY($1)"
                                " AND id NOT IN (SELECT activation_id FROM reservations WHERE activation_id IS NOT NULL)",
                                orgs)
    licences = await _fetch(system, "billing", "SELECT id FROM subscriptions WHERE seller_org_id = ANY($1)", orgs)
    devices = await _fetch(system, "devices", "SELECT d.id FROM devices d JOIN licenses l ON l.id = d.license_id"
                                               " WHERE l.org_id = ANY($1)", orgs)
    told = set(load.transfers) | canary_ids
    orphans = [str(r["id"]) for r in transfers if str(r["id"]) not in told]
    orphans += [str(r["id"]) for r in activations if str(r["id"]) not in load.activations]
    orphans += [str(r["id"]) for r in licences if str(r["id"]) not in load.subscriptions]
    orphans += [str(r["id"]) for r in devices if str(r["id"]) not in load.devices]
    status = {str(r["id"]): r["status"] for r in transfers}
    overspent = [t for t, op in load.transfers.items()
                 if op.kind == "overspend_transfer" and status.get(t) == "completed"]
    overspent += [str(i) for i in load.overspends_activated]
    outcomes = Counter(status.get(t, "missing") for t in load.transfers)
    return Check("clients", {
        "transfers accepted": len(load.transfers), "completed": outcomes["completed"],
        "rejected": outcomes["rejected"], "activations": len(load.activations),
        "licences": len(load.subscriptions), "devices": len(load.devices),
        "accepted but not recorded": outcomes["missing"], "unanswered requests": len(load.unanswered),
        "retries answered differently": len(load.diverging_retries),
        "created but never answered": len(orphans), "over-spends accepted": len(overspent)},
        ("accepted but not recorded", "unanswered requests", "retries answered differently",
         "created but never answered", "over-spends accepted"),
        ([str(d) for d in load.diverging_retries] + orphans + overspent)[:3])


async def system_checks(system: RunningSystem) -> list[Check]:
    events = await published_events(system)
    return [await conservation(system), await transfers_and_ledger(system), await reservations(system),
            await licenses_of_activations(system), await device_limits(system), await audit(system, events),
            await notifications(system, events), await dead_letters(system)]
