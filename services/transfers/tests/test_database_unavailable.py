"""When the service's database cannot take a request (down, restarting, out of connections), the
caller gets a 503 with Retry-After, a temporary condition to retry, not a 500 that reads as a bug."""

import uuid

import httpx

from transfers.main import create_app
from transfers.settings import TransfersSettings


async def test_a_request_the_database_cannot_take_is_a_503_to_retry(own_infrastructure, identity_keys_url, signed_in):
    # Nothing listens on port 1: every connection is refused, as while PostgreSQL restarts.
    unreachable = own_infrastructure.database_url("transfers").replace("127.0.0.1:5432", "127.0.0.1:1")
    app = create_app(own_infrastructure.settings(TransfersSettings, identity_url=identity_keys_url,
                                                 database_url=unreachable))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://transfers") as api:
        answer = await api.get("/api/v1/transfers", headers=signed_in(uuid.uuid4()))
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "retry" in answer.json()["detail"]


async def test_a_request_that_waits_too_long_for_a_connection_is_a_503_to_retry(own_infrastructure, identity_keys_url,
                                                                              signed_in):
    # Connections are kept, never opened beyond the pool for a burst: with the only one busy for
    # longer than the pool's timeout, the request is told to retry rather than failing as a bug.
    app = create_app(own_infrastructure.settings(TransfersSettings, identity_url=identity_keys_url,
                                                 db_pool_size=1, db_pool_timeout=0.3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://transfers") as api:
        async with app.state.engine.connect() as busy:
            await busy.exec_driver_sql("SELECT 1")
            answer = await api.get("/api/v1/transfers", headers=signed_in(uuid.uuid4()))
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        # The connection is back: the same request goes through.
        assert (await api.get("/api/v1/transfers", headers=signed_in(uuid.uuid4()))).status_code == 200
    await app.state.engine.dispose()
