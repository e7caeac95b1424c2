"""Who may publish what on the bus: one broker user per service (shared.settings.BUS_SERVICES),
allowed by the broker to publish only the routing keys that begin with its name.

- Resource permissions (configure, write, read): the events exchange and the dead-letter exchange,
  and the service's own queue and dead-letter queue, nothing else: it declares and consumes its
  own queue, publishes to the exchange, and cannot read, bind or delete another service's queue.
  (Declaring a queue that dead-letters needs write on the dead-letter exchange: what a service
  could publish there lands in dead-letter queues, which nothing consumes.)
- Topic permissions on the events exchange: publishing a routing key that does not begin with
  `<service>.` is refused by the broker (the channel is closed with ACCESS_REFUSED).
- The relay stamps each message's `user_id` with its broker user, which the broker checks against
  the connection's user ("validated user ID"): a consumer can trust it, and refuses an event whose
  type another service owns (`owner`).

The users, permissions and topology are one definitions document (`definitions`): imported into
the local broker with `rabbitmqctl import_definitions` (`make run`, the tests), or loaded by a
broker at start (compose, a cluster: deploy/rabbitmq/).

    python -m shared.bus.authorisation definitions > deploy/rabbitmq/definitions.json

writes the definitions with the development passwords, or those in `<SERVICE>_AMQP_PASSWORD`
(and the administrator's in RABBITMQ_ADMIN_USER / RABBITMQ_ADMIN_PASSWORD).
"""

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterable

from shared.bus.topology import CONSUMERS, DEAD_LETTER_EXCHANGE, DELIVERY_LIMIT
from shared.settings import BUS_SERVICES, ServiceSettings, development_bus_password

EVENTS_EXCHANGE = ServiceSettings.model_fields["events_exchange"].default


def owner(routing_key: str) -> str:
    """The service that may publish `routing_key`: its first word."""
    return routing_key.partition(".")[0]


def resources(service: str, exchange: str = EVENTS_EXCHANGE) -> str:
    """The regex of what `service` may configure, write and read: the two exchanges and its own queues."""
    names = [exchange, DEAD_LETTER_EXCHANGE]
    if service in CONSUMERS:
        names += [CONSUMERS[service].name, CONSUMERS[service].dead_letter_name]
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def publishable(service: str) -> str:
    """The regex of the routing keys `service` may publish."""
    return f"^{re.escape(service)}\\."


def create_users(vhost: str, passwords: dict[str, str] | None = None, exchange: str = EVENTS_EXCHANGE,
                 rabbitmqctl: tuple[str, ...] = ("rabbitmqctl",)) -> None:
    """Creates or updates the services' users, their permissions on `vhost`, and the topology
    there, on the local broker: one `rabbitmqctl import_definitions`, which may be run again.
    `rabbitmqctl`: how to run it (in a container: `docker exec -i <id> rabbitmqctl`)."""
    document = json.dumps(definitions(passwords or development_passwords(), vhost=vhost, exchange=exchange))
    result = subprocess.run([*rabbitmqctl, "-q", "import_definitions"], input=document, capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl import_definitions failed: {(result.stderr or result.stdout).strip()}")


def development_passwords() -> dict[str, str]:
    return {service: development_bus_password(service) for service in BUS_SERVICES}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def password_matches(password: str, hashed: str) -> bool:
    return password_hash(password, base64.b64decode(hashed)[:4]) == hashed


def definitions(passwords: dict[str, str], admin: tuple[str, str] | None = None, vhost: str = "/",
                exchange: str = EVENTS_EXCHANGE) -> dict:
    """A RabbitMQ definitions document: the services' users and permissions, an administrator
    (user, password) if given, and the whole topology, as the services declare it (so events
    published before a consumer's first start are routed, and the services' own declarations find
    it equal)."""
    users = [(s, passwords[s], []) for s in BUS_SERVICES]
    admins = [] if admin is None else [{"user": admin[0], "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}]
    if admin is not None:
        users.insert(0, (*admin, ["administrator"]))
    return {
        "users": [{"name": name, "password_hash": password_hash(password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}
                  for name, password, tags in users],
        "vhosts": [{"name": vhost}],
        "permissions": admins + [{"user": s, "vhost": vhost, "configure": resources(s, exchange), "write": resources(s, exchange),
            "read": resources(s, exchange)} for s in BUS_SERVICES],
        "topic_permissions": [{"user": s, "vhost": vhost, "exchange": exchange, "write": publishable(s), "read": ".*"}
                              for s in BUS_SERVICES],
        "exchanges": [
            {"name": exchange, "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
            {"name": DEAD_LETTER_EXCHANGE, "vhost": vhost, "type": "direct", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
        ],
        "queues": [queue for consumer in CONSUMERS.values() for queue in _queues(consumer.service, vhost)],
        "bindings": [_binding(DEAD_LETTER_EXCHANGE, c.dead_letter_name, c.name, vhost) for c in CONSUMERS.values()]
        + [_binding(exchange, c.name, key, vhost) for c in CONSUMERS.values() for key in c.bindings],
    }


def _queues(service: str, vhost: str) -> Iterable[dict]:
    consumer = CONSUMERS[service]
    yield {"name": consumer.dead_letter_name, "vhost": vhost, "durable": True, "auto_delete": False,
           "arguments": {"x-queue-type": "quorum"}}
    yield {"name": consumer.name, "vhost": vhost, "durable": True, "auto_delete": False,
           "arguments": {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
                         "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": consumer.name}}


def _binding(source: str, queue: str, routing_key: str, vhost: str) -> dict:
    return {"source": source, "vhost": vhost, "destination": queue, "destination_type": "queue",
            "routing_key": routing_key, "arguments": {}}


def passwords_from(environ: dict[str, str]) -> dict[str, str]:
    return {s: environ.get(f"{s.upper()}_AMQP_PASSWORD") or development_bus_password(s) for s in BUS_SERVICES}


def main(argv: list[str]) -> int:
    if argv[:1] != ["definitions"]:
        print(__doc__, file=sys.stderr)
        return 2
    admin = (os.environ.get("RABBITMQ_ADMIN_USER", "licensing"), os.environ.get("RABBITMQ_ADMIN_PASSWORD", "licensing"))
    print(json.dumps(definitions(passwords_from(dict(os.environ)), admin), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
