"""The first start creates the vendor org once, and the service reports itself ready."""

import httpx
import sqlalchemy as sa

from orgs.main import create_app
from orgs.settings import OrgsSettings
from shared.testing import running


async def test_replicas_starting_together_create_one_vendor_and_one_event(infrastructure):
    replicas = [create_app(infrastructure.settings(OrgsSettings)) for _ in range(3)]
    async with running(replicas[0]), running(replicas[1]), running(replicas[2]):
        vendor_ids = {app.state.vendor_id for app in replicas}
        async with replicas[0].state.engine.connect() as conn:
            vendors = (await conn.execute(sa.text("SELECT id FROM organizations WHERE tier = 'vendor'"))).scalars().all()
            events = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM outbox WHERE routing_key = 'orgs.organization.created'"
                        " AND body->'payload'->>'tier' = 'vendor'"
                    )
                )
            ).scalar_one()
    assert len(vendor_ids) == 1
    assert vendors == list(vendor_ids)
    assert events == 1


async def test_readiness_names_what_is_unreachable(infrastructure):
    ready = create_app(infrastructure.settings(OrgsSettings))
    broken = create_app(infrastructure.settings(OrgsSettings, amqp_url="amqp://guest:guest@127.0.0.1:1/"))
    async with running(ready):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ready), base_url="http://orgs") as client:
            response = await client.get("/readyz")
            assert response.status_code == 200
            assert response.json()["checks"] == {"database": "ok", "broker": "ok"}
    # The broken replica is not started (its relay would wait for the broker); readiness is enough.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broken), base_url="http://orgs") as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "broker" in response.json()["detail"]
