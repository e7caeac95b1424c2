"""Redeeming a claim code: the customer's Admin adds a licence ("Add licence"). Unknown, used,
expired and foreign codes get one answer; attempts are throttled and each is in the audit log."""

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from billing.api.shapes import SubscriptionOut, subscription_out, unit_of_work
from billing.api.subscriptions import _one
from billing.domain.commands import RedeemClaim
from billing.handlers import CODE_REFUSED, redeem_claim
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute

router = APIRouter(prefix="/api/v1/claims", tags=["claims"], route_class=StrictJsonRoute)


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=32, description="XXXX-XXXX, any case")]


def client_address(request: Request) -> str | None:
    """The caller's address: the one the gateway put in X-Forwarded-For when the request came from
    a trusted proxy (an address or network of TRUSTED_PROXIES), else the peer's."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer and _trusted(peer, request.app.state.settings.trusted_proxies):
        return forwarded.split(",")[-1].strip() or peer
    return peer


def _trusted(peer: str, proxies: str) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry.strip(), strict=False) for entry in proxies.split(",") if entry.strip())


@router.post("/redeem", response_model=SubscriptionOut)
async def redeem(request: Request, body: RedeemIn, caller: Caller = require(Action.REDEEM_CLAIMS)):
    settings = request.app.state.settings
    async with unit_of_work(request) as uow:
        redemption = await redeem_claim(uow, RedeemClaim(org_id=caller.org_id, code=body.code,
                                                         client_address=client_address(request),
                                                         user_id=caller.user_id), settings)
        await uow.commit()  # the attempt counts and is audited, whatever its outcome
    if redemption.outcome == "throttled":
        raise Problem(429, "Too many claim code attempts; wait before trying again.",
                      headers={"Retry-After": str(redemption.retry_after)})
    if redemption.problem is not None:
        raise redemption.problem
    if redemption.outcome != "redeemed":
        raise Problem(404, CODE_REFUSED)
    return subscription_out(await _one(request, caller, redemption.subscription["id"]), settings.expiring_soon_days)
