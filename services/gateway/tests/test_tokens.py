"""The token check in front of every route but signing in, accepting an invite and the keys."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def assert_unauthorized(response):
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"]


async def test_a_request_without_a_token_is_refused(gateway):
    assert_unauthorized(await gateway.get("/api/v1/me"))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a.b.c"],
)
async def test_a_malformed_authorization_is_refused(gateway, authorization):
    assert_unauthorized(await gateway.get("/api/v1/me", headers={"Authorization": authorization}))


async def test_a_token_signed_with_another_key_is_refused(gateway, issue_token):
    forged = issue_token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))

    assert_unauthorized(await gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}))


@pytest.mark.parametrize("claims", [{"exp": 1}, {"aud": "elsewhere"}, {"iss": "someone"}, {"tier": "emperor"}])
async def test_an_expired_or_foreign_token_is_refused(gateway, issue_token, claims):
    token = issue_token(**claims)

    assert_unauthorized(await gateway.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}))


async def test_a_valid_token_passes(gateway, bearer):
    response = await gateway.get("/api/v1/products", headers=bearer)

    assert response.status_code == 200
    assert response.json()["service"] == "entitlements"


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("POST", "/api/v1/auth/login", "identity"),
        ("POST", "/api/v1/auth/refresh", "identity"),
        ("POST", "/api/v1/invites/accept", "identity"),
    ],
)
async def test_signing_in_and_accepting_an_invite_need_no_token(gateway, method, path, service):
    response = await gateway.request(method, path, json={"email": "a@example.com"})

    assert response.status_code == 200
    assert response.json()["service"] == service


async def test_the_signing_keys_need_no_token(gateway, jwks):
    response = await gateway.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.json() == jwks



def _segment(value: dict | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _claims() -> dict:
    now = int(time.time())
    return {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "tier": "distributor", "role": "admin",
            "aud": "licensing", "iss": "licensing-identity", "iat": now, "exp": now + 300}


async def test_an_unsigned_token_is_refused(gateway, jwks):
    token = f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': jwks['keys'][0]['kid']})}.{_segment(_claims())}."
    assert_unauthorized(await gateway.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"}))


async def test_an_hmac_token_signed_with_the_public_key_is_refused(gateway, signing_key, jwks):
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed_part = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': jwks['keys'][0]['kid']})}.{_segment(_claims())}"
    signature = hmac.new(public_pem, signed_part.encode(), hashlib.sha256).digest()
    token = f"{signed_part}.{_segment(signature)}"
    assert_unauthorized(await gateway.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"}))
