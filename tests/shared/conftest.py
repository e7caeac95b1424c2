"""The tests of shared/ that use the database or the broker run on databases and a vhost of their own: the services' own tests keep their apps
(relays, consumers) running for the whole session on the shared ones, and an entitlements relay
there published the outbox rows these tests expect to stay unpublished (they failed when run
after services/entitlements)."""

import pytest

from shared.testing import isolated_infrastructure


@pytest.fixture(scope="session")
async def infrastructure(infrastructure):
    async with isolated_infrastructure(infrastructure) as own:
        yield own
