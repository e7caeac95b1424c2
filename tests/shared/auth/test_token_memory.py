"""A service remembers an access token it verified, for as long as the token is valid: never past
its expiry, and never for a token it refused."""

import asyncio
import time

import pytest

from shared.auth.tokens import InvalidToken, JwksVerifier


@pytest.fixture
def verifier(identity_keys_url):
    return JwksVerifier(f"{identity_keys_url}/.well-known/jwks.json", audience="licensing", issuer="licensing-identity")


async def test_a_remembered_token_is_refused_once_it_has_expired(verifier, issue_token):
    token = issue_token(exp=int(time.time()) + 2)
    first, again = await verifier.verify(token), await verifier.verify(token)
    assert first == again
    await asyncio.sleep(2.1)  # past the token's own expiry (whole seconds)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_a_refused_token_is_refused_every_time(verifier, issue_token):
    wrong_audience = issue_token(aud="another-system")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(wrong_audience)
