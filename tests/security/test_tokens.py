"""Forged, expired, foreign and tampered access tokens, made from a real member's token and the
platform's real signing key, are refused (401) at the gateway and at every service behind it
(each verifies again, so a caller that reaches a service directly gains nothing). A removed member's
refresh token is refused, and sign-in answers 429 with Retry-After past its limit.

Covered elsewhere and not repeated here: the gateway against a test key set
(services/gateway/tests/test_tokens.py), refresh rotation and reuse, sign-out, the per-address
sign-in limit (services/identity/tests/test_sign_in*.py), invite tokens of 256 random bits stored
as a sha256 hash, single-use, killed by a resend and refused once expired
(services/identity/tests/test_members_and_invites.py)."""

import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth.permissions import Role, Tier, is_allowed
from tests.security.cast import Cast, invited
from tests.security.routes import GUARDED, SIGNED_IN
from tests.system.platform import PASSWORD

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

# The caller whose real token the forgeries start from, and per service (and the gateway's own
# routes) one list it may read, so its genuine token gets 200 there.
CALLER = (Tier.DISTRIBUTOR, Role.ADMIN)
TARGETS: dict[str, str] = {}
for _route in GUARDED:
    if (_route.method == "GET" and not _route.path_params and _route.service not in TARGETS
            and (_route.guard == SIGNED_IN or is_allowed(*CALLER, _route.guard))):
        TARGETS[_route.service] = _route.path


def segment(value: dict | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unsigned(token: str) -> tuple[dict, dict, str]:
    header_part, payload_part, signature = token.split(".")
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False}), signature


def forgeries(token: str, key) -> dict[str, str]:
    """A valid access token turned into every kind of token that must be refused."""
    header, claims, signature = unsigned(token)
    now = int(time.time())
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hmac_part = f"{segment({**header, 'alg': 'HS256'})}.{segment(claims)}"
    hmac_signature = segment(hmac.new(public_pem, hmac_part.encode(), hashlib.sha256).digest())
    head, body, _ = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "alg none": f"{segment({**header, 'alg': 'none'})}.{segment(claims)}.",
        "HS256 signed with the public key": f"{hmac_part}.{hmac_signature}",
        "expired": key.sign({**claims, "iat": now - 3600, "exp": now - 60}),
        "wrong audience": key.sign({**claims, "aud": "another-system"}),
        "wrong issuer": key.sign({**claims, "iss": "someone-else"}),
        "tampered signature": f"{head}.{body}.{flipped}",
        "claims raised to admin under the old signature": f"{head}.{segment({**claims, 'role': 'admin'})}.{signature}",
        "another key with the real key id": jwt.encode(
            claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
            headers={"kid": header["kid"]}),
    }


def service_client(cast: Cast, service: str, token: str) -> httpx.AsyncClient:
    """The service itself, in-process, bypassing the gateway."""
    if service == "gateway":
        return httpx.AsyncClient(base_url=cast.platform.http.base_url, headers={"Authorization": f"Bearer {token}"})
    transport = httpx.ASGITransport(app=cast.platform.apps[service])
    return httpx.AsyncClient(transport=transport, base_url="http://service",
                             headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("service", sorted(TARGETS))
async def test_forged_and_foreign_tokens_are_refused_at_the_gateway_and_the_service(cast: Cast, service):
    admin = cast.member(*CALLER)
    token = admin.http.headers["authorization"].removeprefix("Bearer ")
    key = cast.platform.apps["identity"].state.key_ring.active
    path = TARGETS[service]
    async with service_client(cast, service, token) as genuine:
        assert (await genuine.get(path)).status_code == 200
    for kind, forged in forgeries(token, key).items():
        async with service_client(cast, service, forged) as client:
            answer = await client.get(path)
        assert answer.status_code == 401, f"{service} {path} with a token {kind}: {answer.status_code} {answer.text}"
        assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_removed_members_refresh_token_is_refused(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    member = await invited(cast.platform, admin, Role.TECHNICIAN)
    tokens = (await cast.platform.http.post("/api/v1/auth/login", json={
        "email": member.email, "password": PASSWORD})).json()
    member_id = (await member.http.get("/api/v1/me")).json()["id"]

    assert (await admin.http.delete(f"/api/v1/members/{member_id}")).status_code == 204

    refreshed = await cast.platform.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.text
    signed_in = await cast.platform.http.post("/api/v1/auth/login", json={"email": member.email, "password": PASSWORD})
    assert signed_in.status_code == 401


async def test_sign_in_past_the_account_limit_answers_429_with_retry_after(cast: Cast):
    member = await invited(cast.platform, cast.own.admins[Tier.INTEGRATOR], Role.VIEWER)
    limit = cast.platform.apps["identity"].state.settings.sign_in_failures_per_account
    for _ in range(limit):
        wrong = await cast.platform.http.post("/api/v1/auth/login", json={"email": member.email, "password": "wrong"})
        assert wrong.status_code == 401

    answer = await cast.platform.http.post("/api/v1/auth/login", json={"email": member.email, "password": PASSWORD})

    assert answer.status_code == 429, answer.text  # even with the right password
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["content-type"] == "application/problem+json"
