"""The read model every service keeps of voided access tokens (shared.auth.member_tokens), over a
real service database: whatever order identity's member events arrive in, a token version once
voided stays void and a removal stays a removal; a token issued after the change still works."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.auth.member_tokens import MEMBER_EVENTS, MEMBER_TOKEN_HANDLERS, token_is_void
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import Envelope
from shared.events.identity import MemberRemoved, MemberRoleChanged


@pytest.fixture
async def transfers_database(infrastructure):
    engine = create_engine(infrastructure.database_url("transfers"))
    yield engine
    await engine.dispose()


async def deliver(engine, *events) -> None:
    handle = MEMBER_TOKEN_HANDLERS[MEMBER_EVENTS]
    for event in events:
        async with UnitOfWork(async_sessionmaker(engine), producer="transfers") as uow:
            await handle(uow, Envelope.wrap(event, producer="identity", visible_to=[event.org_id]))
            await uow.commit()


async def void(engine, member_id: uuid.UUID, version: int) -> bool:
    # A session factory of its own: no answer remembered from an earlier look.
    return await token_is_void(async_sessionmaker(engine), member_id, version)


def role_changed(member_id, org_id, version: int) -> MemberRoleChanged:
    return MemberRoleChanged(member_id=member_id, org_id=org_id, old_role="admin", new_role="viewer",
                             token_version=version)


async def test_a_late_older_role_change_does_not_revive_voided_tokens(transfers_database):
    member_id, org_id = uuid.uuid4(), uuid.uuid4()
    assert not await void(transfers_database, member_id, 0)  # nothing heard of it: its tokens stand
    await deliver(transfers_database, role_changed(member_id, org_id, 2), role_changed(member_id, org_id, 1))
    assert await void(transfers_database, member_id, 0)
    assert await void(transfers_database, member_id, 1)
    assert not await void(transfers_database, member_id, 2)  # signed in again after the change


async def test_a_removal_voids_every_token_and_stays(transfers_database):
    member_id, org_id = uuid.uuid4(), uuid.uuid4()
    await deliver(transfers_database, MemberRemoved(member_id=member_id, org_id=org_id, email="x@example.com",
                                                    token_version=1),
                  role_changed(member_id, org_id, 5))
    assert await void(transfers_database, member_id, 7)
    other = uuid.uuid4()
    assert not await void(transfers_database, other, 0)  # another member is untouched
