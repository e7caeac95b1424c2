"""The audit service on the test infrastructure: its app with workers, an HTTP client, a publisher
of events on the real bus, tokens, and a direct connection to its database."""

import uuid
from datetime import datetime

import aio_pika
import asyncpg
import httpx
import pytest

from audit.main import create_app
from audit.settings import AuditSettings
from shared.bus.topology import declare_topology
from shared.events.envelope import Envelope
from shared.testing import eventually, running


@pytest.fixture
async def audit_app(infrastructure, identity_keys_url):
    app = create_app(infrastructure.settings(AuditSettings, identity_url=identity_keys_url))
    async with running(app):
        yield app


@pytest.fixture
async def audit_api(audit_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audit_app), base_url="http://audit") as client:
        yield client


@pytest.fixture
async def audit_db(infrastructure):
    connection = await asyncpg.connect(infrastructure.database_url("audit").replace("+asyncpg", ""))
    yield connection
    await connection.close()


@pytest.fixture
async def publish(infrastructure):
    """Publishes one event as a producing service's relay would; returns its envelope."""
    connection = await aio_pika.connect(infrastructure.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel, "licensing.events")

    async def publish(
        event_type: str,
        payload: dict,
        *,
        org: uuid.UUID,
        user: uuid.UUID | None = None,
        also_visible_to: tuple[uuid.UUID, ...] = (),
        occurred_at: datetime | None = None,
    ) -> Envelope:
        envelope = Envelope(
            type=event_type,
            producer=event_type.split(".")[0],
            actor_org_id=org,
            actor_user_id=user,
            visible_to=[org, *also_visible_to],
            payload=payload,
            **({"occurred_at": occurred_at} if occurred_at else {}),
        )
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
        return envelope

    yield publish
    await connection.close()


@pytest.fixture
def signed_in(issue_token):
    def headers(org: uuid.UUID, role: str = "admin", tier: str = "distributor") -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(org=str(org), role=role, tier=tier)}"}

    return headers


@pytest.fixture
def stored(audit_db):
    """Waits until the audit log holds these events (the consumer is asynchronous)."""

    async def wait(*envelopes: Envelope) -> None:
        ids = [e.event_id for e in envelopes]

        async def all_there():
            return await audit_db.fetchval("SELECT count(*) FROM audit_events WHERE event_id = ANY($1)", ids) == len(ids)

        await eventually(all_there)

    return wait
