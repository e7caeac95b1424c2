"""What a seed decides, from `random.Random(seed)` alone: the shape of the world (partners,
customers, products, entitlement lines), the fault schedule, and the sequence of operations of the
load (endless: the load takes from it until the fault schedule is over). Running a seed again gives
the same plan (its fingerprint says so); only how far into the sequence the load gets depends on
how fast the machine is."""

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import count, islice

# Every service process supervisord runs; any of them may be killed.
KILLABLE = ("gateway", "orgs", "identity", "entitlements", "transfers", "audit", "notify", "devices", "billing")
FAULT_KINDS = ("kill", "broker", "postgres")


@dataclass(frozen=True)
class Size:
    min_operations: int  # the load goes on after the faults until this many were sent
    faults: int
    rate: float  # operations dispatched per second: below what the machine takes (README: ~20 transfers/s)
    max_pause: float  # seconds between the recovery from a fault and the next one, at most
    max_integrators: int  # each with one or two customers


SHORT = Size(min_operations=40, faults=3, rate=4.0, max_pause=1.0, max_integrators=2)  # the seeds of `make test`
FULL = Size(min_operations=300, faults=6, rate=4.0, max_pause=6.0, max_integrators=3)  # `make chaos`


@dataclass(frozen=True)
class World:
    products: int
    # per entitlement, its lines: (product index, quantity)
    entitlements: list[list[tuple[int, int]]]
    # per integrator, how many representatives and how many customers (at least one) it has
    integrators: list[tuple[int, int]]


@dataclass(frozen=True)
class Operation:
    index: int
    # transfers and activations: split, transfer_all, activate, overspend_transfer, overspend_activate,
    # burst, retry; subscription licences (billing): subscribe, redeem, pause, resume, delete; the
    # licensed software and its owner (devices): license_user, device_activate, device_validate,
    # device_reset, device_deactivate (see load.py)
    kind: str
    actor: str  # "distributor", "integrator:<i>", "customer:<i>:<j>"
    line: tuple[int, int]  # (entitlement index, line index)
    quantity: int | None = None
    to: str | None = None
    copies: int = 1  # burst: concurrent requests for the same holding; retry: sends of the same key
    key: str = ""  # the Idempotency-Key (every POST has one, reused on every retry)
    # subscriptions, devices: which of the things there are when it runs (licences, licenses,
    # devices) it takes, modulo their number; device_activate: `copies` devices at once
    pick: int = 0


@dataclass(frozen=True)
class Fault:
    kind: str  # kill, broker, postgres
    target: str | None = None  # kill: the process
    pause_before: float = 0.0  # seconds after the previous fault recovered (or the load started)
    outage: float = 0.0  # broker: seconds between stop and start


@dataclass(frozen=True)
class Plan:
    seed: int
    size: Size
    world: World
    faults: list[Fault]

    def operations(self) -> Iterator[Operation]:
        """The load's operations, always the same for the seed: first each holding is stocked
        down the tiers, then each integrator sells two subscription licences (one for a customer,
        one with a claim code) and each customer activates a few licenses and devices, so the
        licence and device operations have something to act on early; then a random mix, without
        end."""
        rng = random.Random(f"{self.seed}:operations")
        index = count()
        upstream, downstream = _primes(self.world)
        # a few random operations between the tiers' stocking: the first transfers complete meanwhile
        for stock in (upstream, [None] * 12, downstream, [None] * 8):
            for prime in stock:
                if prime is None:
                    yield _operation(rng, self.seed, self.world, next(index))
                else:
                    actor, to, line, quantity = prime
                    yield Operation(next(index), "split", actor, line, quantity, to, key=_key(rng, self.seed))
        for kind, actor, to in _licence_primes(self.world):
            yield Operation(next(index), kind, actor, rng.choice(_lines(self.world)), 3, to, key=_key(rng, self.seed),
                            pick=rng.getrandbits(16), copies=5 if kind == "device_activate" else 1)
        for i in index:
            yield _operation(rng, self.seed, self.world, i)

    def fingerprint(self) -> str:
        plan = {**asdict(self), "operations": [asdict(op) for op in islice(self.operations(), 200)]}
        return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()[:12]


def make_plan(seed: int, size: Size) -> Plan:
    rng = random.Random(seed)
    world = _world(rng, size)
    return Plan(seed, size, world, _faults(rng, size))


def _world(rng: random.Random, size: Size) -> World:
    products = rng.randint(2, 3)
    entitlements = []
    for _ in range(rng.randint(1, 2)):
        chosen = rng.sample(range(products), rng.randint(1, products))
        entitlements.append([(p, rng.randint(200, 600)) for p in chosen])
    integrators = [(rng.randint(1, 2), rng.randint(1, 2)) for _ in range(rng.randint(2, size.max_integrators))]
    return World(products, entitlements, integrators)


def _lines(world: World) -> list[tuple[int, int]]:
    return [(e, n) for e, lines in enumerate(world.entitlements) for n in range(len(lines))]


def _key(rng: random.Random, seed: int) -> str:
    return f"chaos-{seed}-{uuid.UUID(int=rng.getrandbits(128))}"


def _primes(world: World) -> tuple[list, list]:
    """(actor, to, line, quantity), down from the distributor and down from the integrators: a
    third of each line shared among the integrators, a third of an integrator's share to each of
    its customers, so that every tier has something to move and to activate."""
    upstream, downstream = [], []
    for line in _lines(world):
        issued = world.entitlements[line[0]][line[1]][1]
        for i, (_, customers) in enumerate(world.integrators):
            upstream.append(("distributor", f"integrator:{i}", line, max(1, issued // 3 // len(world.integrators))))
            downstream += [(f"integrator:{i}", f"customer:{i}:{j}", line, max(1, issued // 9 // len(world.integrators)))
                           for j in range(customers)]
    return upstream, downstream


def _licence_primes(world: World) -> list[tuple[str, str, str | None]]:
    """(kind, actor, to): each integrator's two licences; each customer's activation of 3, then
    5 devices at once on one of its licenses (more than a license of 3 lets in)."""
    primes = []
    for i, (_, customers) in enumerate(world.integrators):
        primes += [("subscribe", f"integrator:{i}", f"customer:{i}:0"), ("subscribe", f"integrator:{i}", None)]
        primes += [("activate", f"customer:{i}:{j}", None) for j in range(customers)]
    for i, (_, customers) in enumerate(world.integrators):
        primes += [("device_activate", f"customer:{i}:{j}", None) for j in range(customers)]
    return primes


KINDS = ["split"] * 40 + ["activate"] * 25 + ["overspend_transfer"] * 6 + ["overspend_activate"] * 4 + \
        ["burst"] * 10 + ["retry"] * 12 + ["transfer_all"] * 3 + \
        ["subscribe"] * 8 + ["redeem"] * 4 + ["pause"] * 3 + ["resume"] * 2 + ["delete"] * 2 + \
        ["license_user"] * 3 + ["device_activate"] * 10 + ["device_validate"] * 8 + ["device_reset"] * 3 + \
        ["device_deactivate"] * 2
SUBSCRIPTION_KINDS = ("subscribe", "redeem", "pause", "resume", "delete")
DEVICE_KINDS = ("license_user", "device_activate", "device_validate", "device_reset", "device_deactivate")


def _operation(rng: random.Random, seed: int, world: World, index: int) -> Operation:
    kind = rng.choice(KINDS)
    line = rng.choice(_lines(world))
    issued = world.entitlements[line[0]][line[1]][1]
    integrator = rng.randrange(len(world.integrators))
    customer = rng.randrange(world.integrators[integrator][1])
    common = dict(index=index, line=line, key=_key(rng, seed))
    if kind in SUBSCRIPTION_KINDS:
        # an integrator's licence of its holding: for one of its customers, or with a claim code
        # (None) that the customer redeems later
        to = f"customer:{integrator}:{customer}" if kind == "redeem" or rng.random() < 0.5 else None
        return Operation(kind=kind, actor=f"integrator:{integrator}", to=to, quantity=rng.randint(1, 4),
                         pick=rng.getrandbits(16), **common)
    if kind in DEVICE_KINDS:
        return Operation(kind=kind, actor=f"customer:{integrator}:{customer}", copies=rng.randint(1, 4),
                         quantity=rng.randint(1, 2), pick=rng.getrandbits(16), **common)
    if kind in ("activate", "overspend_activate"):
        quantity = rng.randint(1, 3) if kind == "activate" else issued + rng.randint(1, 50)
        return Operation(kind=kind, actor=f"customer:{integrator}:{customer}", quantity=quantity, **common)
    if kind == "transfer_all":  # the whole holding, only downstream: at the top it would starve the run
        return Operation(kind=kind, actor=f"integrator:{integrator}", to=f"customer:{integrator}:{customer}", **common)
    if rng.random() < 0.5:  # integrator -> its customer, or distributor -> integrator
        actor, to = f"integrator:{integrator}", f"customer:{integrator}:{customer}"
    else:
        actor, to = "distributor", f"integrator:{integrator}"
    quantity = issued + rng.randint(1, 50) if kind == "overspend_transfer" else rng.randint(1, 6)
    copies = rng.randint(3, 6) if kind == "burst" else rng.randint(2, 3) if kind == "retry" else 1
    return Operation(kind=kind, actor=actor, to=to, quantity=quantity, copies=copies, **common)


def _faults(rng: random.Random, size: Size) -> list[Fault]:
    """Each kind at least once (when there are that many), the rest at random, in random order."""
    kinds = list(FAULT_KINDS)[:size.faults] + [rng.choice(FAULT_KINDS) for _ in range(size.faults - len(FAULT_KINDS))]
    rng.shuffle(kinds)
    faults = []
    for kind in kinds:
        pause = round(rng.uniform(0.3, size.max_pause), 2)
        if kind == "kill":
            faults.append(Fault(kind, target=rng.choice(KILLABLE), pause_before=pause))
        elif kind == "broker":
            faults.append(Fault(kind, pause_before=pause, outage=round(rng.uniform(1.0, 3.0), 2)))
        else:
            faults.append(Fault(kind, pause_before=pause))
    return faults
