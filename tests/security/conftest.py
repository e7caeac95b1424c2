"""One running platform for the whole security suite (with notify, and without the gateway's
request rate limits, which would otherwise answer 429 to the matrix's bursts), and its cast.
Small connection pools: the suite sends a few requests at a time, and the PostgreSQL server may be
shared with other runs. No sign-in limit per address: every request comes from 127.0.0.1, and the
fuzzer's failed sign-ins would lock the rest of the suite out (the limit has tests of its own)."""

import socket

import pytest

from shared.testing import isolated_infrastructure
from tests.security.cast import Cast, build_cast
from tests.system.platform import running_platform


def closed_port() -> int:
    """A port nothing listens on: notify's mail stays queued, which is all these tests need."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVICE_SETTINGS = {"db_pool_size": 3, "sign_in_failures_per_address": 100_000}
GATEWAY_SETTINGS = {"rate_limit_per_address": 0, "rate_limit_per_user": 0}


@pytest.fixture(scope="package")
async def platform(infrastructure):
    async with (isolated_infrastructure(infrastructure) as own,
                running_platform(own, smtp_port=closed_port(), service_settings=SERVICE_SETTINGS,
                                 gateway_settings=GATEWAY_SETTINGS) as platform):
        yield platform


@pytest.fixture(scope="package")
async def cast(platform) -> Cast:
    return await build_cast(platform)
