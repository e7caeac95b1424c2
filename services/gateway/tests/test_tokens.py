"""The token check in front of every route but signing in, accepting an invite and the keys."""

import pytest
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
