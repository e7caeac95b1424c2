"""The identity service on the test infrastructure: an HTTP client to it (with `.app` and
`.settings`), one with settings of a test's own, and members signed in from a given address."""

import contextlib
import uuid

import httpx
import pytest
import sqlalchemy as sa

from identity.db import members
from identity.domain.passwords import hash_password
from identity.main import create_app
from identity.settings import IdentitySettings
from shared.testing import running

PASSWORD = "correct horse battery staple"


@pytest.fixture
def start_identity(infrastructure):
    """`async with start_identity(**settings) as client:` an identity service of the test's own."""

    @contextlib.asynccontextmanager
    async def start(**overrides):
        values = {"admin_email": f"Admin-{uuid.uuid4().hex[:8]}@Example.com", "admin_password": PASSWORD, **overrides}
        settings = infrastructure.settings(IdentitySettings, **values)
        app = create_app(settings)
        async with running(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
                client.app = app
                client.settings = settings
                yield client

    return start


@pytest.fixture
async def identity(start_identity):
    async with start_identity() as client:
        yield client


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def new_member(password_hash):
    """`await new_member(identity, org_id, role=...)`: a member inserted directly -> (id, email)."""

    async def create(identity, org_id: uuid.UUID, *, tier: str = "distributor", role: str = "admin"):
        email = f"m-{uuid.uuid4().hex[:10]}@example.com"
        member_id = uuid.uuid4()
        async with identity.app.state.session_factory() as session:
            await session.execute(sa.insert(members).values(
                id=member_id, org_id=org_id, tier=tier, email=email, first_name="F", last_name="L", role=role,
                password_hash=password_hash, status="active"))
            await session.commit()
        return member_id, email

    return create
