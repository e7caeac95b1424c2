"""The load: the seed's operations, dispatched at a steady pace through the gateway, as clients that
keep trying would send them. Every POST carries an Idempotency-Key; a request that meets a fault
(no answer, 5xx, 429) is sent again with the same key and body until it gets an answer or its
deadline passes. What each request finally got is recorded for the checker.

Subscription licences and devices act on what earlier operations made: a licence created, a
license a customer's activation became, a device activated. The operation's `pick` chooses one
of those there are when it runs; with none yet, the operation is skipped (and counted)."""

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp

from bench.chaos.plan import DEVICE_KINDS, SUBSCRIPTION_KINDS, Operation
from bench.chaos.world import Cast
from bench.system_run import Api

RETRIED_STATUSES = {429, 500, 502, 503, 504}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=20)
LICENSE_WAIT = 10  # times a device operation looks for a license of its customer, a second apart


@dataclass
class Answer:
    status: int | None  # None: no answer before the deadline
    body: object = None
    attempts: int = 0
    faulted: int = 0  # attempts that met a fault (no answer, 5xx, 429)


async def post(api: Api, path: str, body: dict | None, key: str, deadline: float = 90.0,
               method: str = "POST") -> Answer:
    answer = Answer(None)
    give_up = time.monotonic() + deadline
    delay = 0.1
    while time.monotonic() < give_up:
        answer.attempts += 1
        try:
            async with api.session.request(method, api.base + path, json=body, timeout=REQUEST_TIMEOUT,
                                           headers={**api.headers, **({"Idempotency-Key": key} if key else {})}
                                           ) as response:
                data = await response.json(content_type=None) if response.status != 204 else None
                if response.status not in RETRIED_STATUSES:
                    answer.status, answer.body = response.status, data
                    return answer
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            pass  # no answer (the process was killed, the connection dropped) or not JSON (a proxy's page)
        answer.faulted += 1
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    return answer


@dataclass
class LoadResult:
    # transfer id -> the operation that asked for it
    transfers: dict[str, Operation] = field(default_factory=dict)
    activations: dict[str, Operation] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)  # status -> count, for answers other than 201/202
    unanswered: list[int] = field(default_factory=list)  # operation indexes
    # retries of one key that got different answers: (operation index, the ids seen)
    diverging_retries: list[tuple[int, list]] = field(default_factory=list)
    overspends_activated: list[int] = field(default_factory=list)
    # subscription id -> the operation that created it (answered 202)
    subscriptions: dict[str, Operation] = field(default_factory=dict)
    # device id -> the operation whose activation was answered with it (201, or 200: the same device)
    devices: dict[str, Operation] = field(default_factory=dict)
    # what the subscription and device operations did or were told: e.g. "redeemed", "paused",
    # "device activated", "validation VALID", "activation refused TOO_MANY_DEVICES", "skipped: no license"
    outcomes: Counter = field(default_factory=Counter)
    requests: int = 0
    faulted_attempts: int = 0
    operations: int = 0
    seconds: float = 0.0


class Load:
    def __init__(self, cast: Cast, operations: Iterator[Operation], rate: float, concurrency: int = 24):
        self.cast, self.operations, self.rate = cast, operations, rate
        self.slots = asyncio.Semaphore(concurrency)
        self.result = LoadResult()
        # What the subscription and device operations act on, as the clients were told it.
        self.claimable: dict[str, list[tuple[str, str]]] = {}  # integrator -> (licence id, claim code), unassigned
        self.assigned: dict[str, list[str]] = {}  # integrator -> its customers' licences, not paused
        self.paused: dict[str, list[str]] = {}  # integrator -> its paused licences
        self.keys: dict[str, str] = {}  # license id -> its key
        self.users: dict[str, tuple[str, str]] = {}  # license id -> a license user's email and password
        self.active: dict[str, list[tuple[str, str, str]]] = {}  # customer -> (device id, key, fingerprint)

    async def run(self, stop: asyncio.Event, min_operations: int) -> LoadResult:
        """Sends the operations in order, `rate` a second, until `stop` is set and at least
        `min_operations` went out; then waits for their answers."""
        started = time.monotonic()
        tasks = []
        for position, operation in enumerate(self.operations):
            if stop.is_set() and position >= min_operations:
                break
            await asyncio.sleep(max(0.0, started + position / self.rate - time.monotonic()))
            await self.slots.acquire()
            tasks.append(asyncio.create_task(self._run(operation)))
        await asyncio.gather(*tasks)
        self.result.operations = len(tasks)
        self.result.seconds = time.monotonic() - started
        return self.result

    async def _run(self, operation: Operation) -> None:
        try:
            if operation.kind in ("activate", "overspend_activate"):
                await self._activate(operation)
            elif operation.kind == "burst":
                await asyncio.gather(*(self._transfer(operation, f"{operation.key}-{copy}")
                                       for copy in range(operation.copies)))
            elif operation.kind in SUBSCRIPTION_KINDS or operation.kind in DEVICE_KINDS:
                await getattr(self, f"_{operation.kind}")(operation)
            elif operation.kind == "retry":
                answers = await asyncio.gather(*(self._transfer(operation, operation.key)
                                                 for _ in range(operation.copies)))
                ids = [a.body.get("id") if a.status == 202 else a.status for a in answers]
                if len(set(ids)) > 1:
                    self.result.diverging_retries.append((operation.index, ids))
            else:
                await self._transfer(operation, operation.key)
        finally:
            self.slots.release()

    def _line_body(self, operation: Operation) -> dict:
        line = self.cast.lines[operation.line]
        return {"entitlement_id": line.entitlement_id, "product_id": line.product_id}

    async def _transfer(self, operation: Operation, key: str) -> Answer:
        body = {**self._line_body(operation), "to_org_id": self.cast.orgs[operation.to].id}
        if operation.kind != "transfer_all":
            body["quantity"] = operation.quantity
        answer = await self._send(operation, "/api/v1/transfers", body, key)
        if answer.status == 202:
            self.result.transfers[answer.body["id"]] = operation
        return answer

    async def _activate(self, operation: Operation) -> None:
        body = {**self._line_body(operation), "quantity": operation.quantity,
                "project_name": f"Chaos project {operation.index}", "project_manager": "Chaos PM",
                "serial_number": f"SN-{operation.index:05d}"}
        answer = await self._send(operation, "/api/v1/activations", body, operation.key)
        if answer.status == 201:
            self.result.activations[answer.body["id"]] = operation
            if operation.kind == "overspend_activate":
                self.result.overspends_activated.append(operation.index)

    async def _send(self, operation: Operation, path: str, body: dict | None, key: str | None,
                    ok: tuple[int, ...] = (201, 202), actor: str | None = None, method: str = "POST") -> Answer:
        answer = await post(self.cast.clients[actor or operation.actor], path, body, key, method=method)
        return self._record(operation, answer, ok)

    def _record(self, operation: Operation, answer: Answer, ok: tuple[int, ...]) -> Answer:
        self.result.requests += 1
        self.result.faulted_attempts += answer.faulted
        if answer.status is None:
            self.result.unanswered.append(operation.index)
        elif answer.status not in ok:
            self.result.refused[answer.status] = self.result.refused.get(answer.status, 0) + 1
        return answer

    def _told(self, what: str) -> None:
        self.result.outcomes[what] += 1

    def _take(self, things: list, operation: Operation):
        """One of `things` (removed from it), as the operation picks; None when there is none."""
        if not things:
            self._told(f"{operation.kind}: nothing to act on yet")
            return None
        return things.pop(operation.pick % len(things))

    @staticmethod
    def _detail(answer: Answer) -> str:
        return answer.body.get("detail", "") if isinstance(answer.body, dict) else ""

    # --- subscription licences (billing) -----------------------------------------------------------

    async def _subscribe(self, operation: Operation) -> None:
        body = {**self._line_body(operation), "plan_id": self.cast.plans[operation.actor],
                "name": f"Chaos licence {operation.index}", "quantity": operation.quantity}
        if operation.to:
            body["customer_org_id"] = self.cast.orgs[operation.to].id
        answer = await self._send(operation, "/api/v1/subscriptions", body, operation.key)
        if answer.status != 202:
            return
        licence = answer.body["id"]
        self.result.subscriptions[licence] = operation
        if operation.to:
            self.assigned.setdefault(operation.actor, []).append(licence)
            self._told("licence created for a customer")
        elif answer.body.get("claim_code"):
            self.claimable.setdefault(operation.actor, []).append((licence, answer.body["claim_code"]))
            self._told("licence created with a claim code")
        else:  # a replay of a lost answer: the code is shown once only
            self._told("licence created, its claim code lost with an answer")

    async def _redeem(self, operation: Operation) -> None:
        taken = self._take(self.claimable.get(operation.actor, []), operation)
        if taken is None:
            return
        licence, code = taken
        client = self.cast.clients[operation.to]
        for _ in range(30):  # 409 while the ledger still reserves the licence's quantity
            answer = await post(client, "/api/v1/claims/redeem", {"code": code}, operation.key)
            if answer.status != 409:
                break
            await asyncio.sleep(1.0)
        self._record(operation, answer, (200,))
        if answer.status == 200:
            self.assigned.setdefault(operation.actor, []).append(licence)
            self._told("licence redeemed")
        elif answer.status == 404 and answer.faulted:
            self._told("redeem refused after an attempt met a fault (redeemed then?)")
        else:
            self._told(f"redeem refused ({answer.status})")

    async def _pause(self, operation: Operation) -> None:
        licence = self._take(self.assigned.get(operation.actor, []), operation)
        if licence is None:
            return
        answer = await self._send(operation, f"/api/v1/subscriptions/{licence}/pause", {}, None, ok=(200,))
        if answer.status == 200 or "already paused" in self._detail(answer):
            self.paused.setdefault(operation.actor, []).append(licence)
            self._told("licence paused")
        elif answer.status == 409:
            self._told("pause refused (409)")  # the ledger refused the licence: nothing to pause, ever
        else:
            self.assigned[operation.actor].append(licence)

    async def _resume(self, operation: Operation) -> None:
        licence = self._take(self.paused.get(operation.actor, []), operation)
        if licence is None:
            return
        answer = await self._send(operation, f"/api/v1/subscriptions/{licence}/resume", {}, None, ok=(200,))
        if answer.status == 200 or "not paused" in self._detail(answer):
            self.assigned.setdefault(operation.actor, []).append(licence)
            self._told("licence resumed")
        else:
            self.paused[operation.actor].append(licence)

    async def _delete(self, operation: Operation) -> None:
        taken = self._take(self.claimable.get(operation.actor, []), operation)
        if taken is None:
            return
        answer = await self._send(operation, f"/api/v1/subscriptions/{taken[0]}", None, None, ok=(204,),
                                  method="DELETE")
        if answer.status == 204:
            self._told("licence deleted")
        elif answer.status == 409 and "being reserved" in self._detail(answer):
            self.claimable[operation.actor].append(taken)  # pending: deleted later, perhaps
            self._told("delete refused: still being reserved")
        else:
            self._told(f"delete refused ({answer.status})")

    # --- the licensed software and its owner (devices) ---------------------------------------------

    async def _license(self, operation: Operation) -> tuple[dict, str] | None:
        """One of the customer's licenses, as the operation picks, and its key (its Admin reads it).
        A customer's first activation becomes a license a moment later: its software waits for it."""
        for _ in range(LICENSE_WAIT):
            listed = await self._send(operation, "/api/v1/license-keys?limit=200", None, None, ok=(200,), method="GET")
            items = sorted(listed.body["items"], key=lambda item: item["id"]) if listed.status == 200 else []
            if items:
                break
            await asyncio.sleep(1.0)
        else:
            self._told(f"{operation.kind}: no license yet")
            return None
        license = items[operation.pick % len(items)]
        if license["id"] not in self.keys:
            detail = await self._send(operation, f"/api/v1/license-keys/{license['id']}", None, None, ok=(200,),
                                      method="GET")
            if detail.status != 200:
                return None
            self.keys[license["id"]] = detail.body["key"]
        return license, self.keys[license["id"]]

    async def _license_user(self, operation: Operation) -> None:
        found = await self._license(operation)
        if found is None or found[0]["id"] in self.users:
            return
        license = found[0]
        email = f"user-{operation.index}-{operation.key[-8:]}@example.com"
        body = {"license_id": license["id"], "email": email,
                "activation_cap": min(operation.quantity, license["max_devices"])}
        answer = await self._send(operation, "/api/v1/license-users", body, operation.key)
        if answer.status == 201:
            self.users[license["id"]] = (email, answer.body["initial_password"])
            self._told("license user assigned")
        else:
            self._told(f"license user refused ({answer.status})")

    async def _device_activate(self, operation: Operation) -> None:
        found = await self._license(operation)
        if found is None:
            return
        license, key = found
        credentials = self.users.get(license["id"])
        await asyncio.gather(*(self._activate_device(operation, key, f"fp-{operation.key}-{n}", credentials)
                               for n in range(operation.copies)))

    async def _activate_device(self, operation: Operation, key: str, fingerprint: str,
                               credentials: tuple[str, str] | None) -> None:
        body = {"key": key, "fingerprint": fingerprint, "name": f"Chaos device {operation.index}",
                "platform": "linux", "hostname": f"host-{fingerprint[-12:]}"}
        if credentials:
            body["user_email"], body["user_password"] = credentials
        answer = await self._send(operation, "/api/v1/device/activate", body, None, ok=(200, 201))
        if answer.status in (200, 201):
            if answer.body["id"] not in self.result.devices:
                self.result.devices[answer.body["id"]] = operation
                self.active.setdefault(operation.actor, []).append((answer.body["id"], key, fingerprint))
            self._told("device activated" if answer.status == 201 else "device activated (200: already active)")
        elif answer.status is not None:
            code = answer.body.get("code", answer.status) if isinstance(answer.body, dict) else answer.status
            self._told(f"activation refused {code}")

    async def _device_validate(self, operation: Operation) -> None:
        devices = self.active.get(operation.actor, [])
        if not devices:
            self._told("device_validate: nothing to act on yet")
            return
        _, key, fingerprint = devices[operation.pick % len(devices)]
        answer = await self._send(operation, "/api/v1/device/validate", {"key": key, "fingerprint": fingerprint},
                                  None, ok=(200,))
        if answer.status == 200:
            self._told(f"validation {answer.body['code']}")

    async def _device_reset(self, operation: Operation) -> None:
        devices = self.active.get(operation.actor, [])
        device = self._take(devices, operation)
        if device is None:
            return
        answer = await self._send(operation, f"/api/v1/devices/{device[0]}/reset", None, None, ok=(204,))
        if answer.status == 204:
            self._told("device reset")
        elif answer.status == 409 and "not active" not in self._detail(answer):
            devices.append(device)  # the reset budget is used up: the device stays
            self._told("reset refused: budget used up")
        else:
            self._told(f"reset refused ({answer.status})")

    async def _device_deactivate(self, operation: Operation) -> None:
        device = self._take(self.active.get(operation.actor, []), operation)
        if device is None:
            return
        _, key, fingerprint = device
        answer = await self._send(operation, "/api/v1/device/deactivate", {"key": key, "fingerprint": fingerprint},
                                  None, ok=(204,))
        self._told("device deactivated" if answer.status == 204 else f"deactivation refused ({answer.status})")
