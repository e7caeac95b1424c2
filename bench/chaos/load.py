"""The load: the seed's operations, dispatched at a steady pace through the gateway, as clients that
keep trying would send them. Every POST carries an Idempotency-Key; a request that meets a fault
(no answer, 5xx, 429) is sent again with the same key and body until it gets an answer or its
deadline passes. What each request finally got is recorded for the checker."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp

from bench.chaos.plan import Operation
from bench.chaos.world import Cast
from bench.system_run import Api

RETRIED_STATUSES = {429, 500, 502, 503, 504}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass
class Answer:
    status: int | None  # None: no answer before the deadline
    body: object = None
    attempts: int = 0
    faulted: int = 0  # attempts that met a fault (no answer, 5xx, 429)


async def post(api: Api, path: str, body: dict, key: str, deadline: float = 90.0) -> Answer:
    answer = Answer(None)
    give_up = time.monotonic() + deadline
    delay = 0.1
    while time.monotonic() < give_up:
        answer.attempts += 1
        try:
            async with api.session.post(api.base + path, json=body, timeout=REQUEST_TIMEOUT,
                                        headers={**api.headers, "Idempotency-Key": key}) as response:
                data = await response.json(content_type=None)
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
    requests: int = 0
    faulted_attempts: int = 0
    operations: int = 0
    seconds: float = 0.0


class Load:
    def __init__(self, cast: Cast, operations: Iterator[Operation], rate: float, concurrency: int = 24):
        self.cast, self.operations, self.rate = cast, operations, rate
        self.slots = asyncio.Semaphore(concurrency)
        self.result = LoadResult()

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

    async def _send(self, operation: Operation, path: str, body: dict, key: str) -> Answer:
        answer = await post(self.cast.clients[operation.actor], path, body, key)
        self.result.requests += 1
        self.result.faulted_attempts += answer.faulted
        if answer.status is None:
            self.result.unanswered.append(operation.index)
        elif answer.status not in (201, 202):
            self.result.refused[answer.status] = self.result.refused.get(answer.status, 0) + 1
        return answer
