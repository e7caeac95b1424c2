"""GET /api/v1/audit-events/verify: is the caller org's hash chain intact, and where does it break?"""

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from audit.verification import verify_chain
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


class BrokenAt(BaseModel):
    seq: int | None  # the link's position in the chain (None: a record no link covers)
    event_id: uuid.UUID | None
    occurred_at: datetime | None
    reason: str


class ChainReport(BaseModel):
    intact: bool
    checked: int  # links examined, up to and including the first broken one
    first_broken: BrokenAt | None
    head_hash: str | None  # hex, when intact; keep it elsewhere to detect a later rewrite of the whole chain


@router.get("/verify", response_model=ChainReport)
async def verify_audit_chain(request: Request, caller: Caller = require(Action.VIEW_AUDIT)):
    check = await verify_chain(request.app.state.engine, caller.org_id)
    broken = check.first_broken
    return ChainReport(
        intact=check.intact,
        checked=check.checked,
        first_broken=BrokenAt(**broken.__dict__) if broken else None,
        head_hash=check.head_hash.hex() if check.intact else None,
    )
