"""The orgs service running on the test infrastructure, an HTTP client to it, and distributors."""

import uuid

import httpx
import pytest
import sqlalchemy as sa

from orgs.db import organizations
from orgs.main import create_app
from orgs.settings import OrgsSettings
from shared.testing import running


@pytest.fixture
async def app(infrastructure, identity_keys_url):
    app = create_app(infrastructure.settings(OrgsSettings, identity_url=identity_keys_url))
    async with running(app):
        yield app


@pytest.fixture
async def api(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orgs") as client:
        yield client


@pytest.fixture
def distributor(app):
    """Creates a distributor org (as the vendor would) and returns its id."""

    async def create(name: str = "Distributor") -> uuid.UUID:
        org_id = uuid.uuid4()
        async with app.state.engine.begin() as conn:
            await conn.execute(
                sa.insert(organizations).values(
                    id=org_id, name=name, tier="distributor", parent_id=app.state.vendor_id
                )
            )
        return org_id

    return create
