"""Request rates: a burst beyond the limit gets 429 with Retry-After, per user and per address."""

import asyncio

from gateway.domain.rate_limit import RateLimiter


def test_a_bucket_allows_its_burst_then_asks_to_wait_until_a_token_refills():
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.acquire("ann", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("ann", now=0.0) == 0.5  # one token every 1/2 s
    assert limiter.acquire("bob", now=0.0) == 0.0  # another key has its own bucket
    assert limiter.acquire("ann", now=0.5) == 0.0


def test_the_limiter_forgets_idle_keys_instead_of_growing_without_bound():
    limiter = RateLimiter(rate=1, burst=1, max_keys=100)
    for i in range(1000):
        limiter.acquire(f"address-{i}", now=float(i))
    assert len(limiter._buckets) <= 100


async def test_a_burst_from_one_user_gets_429_with_retry_after_and_others_go_on(start_gateway, issue_token):
    ann = {"Authorization": f"Bearer {issue_token()}"}
    bob = {"Authorization": f"Bearer {issue_token()}"}
    async with start_gateway(rate_limit_per_user=1, rate_limit_per_user_burst=5) as gateway:
        answers = await asyncio.gather(*(gateway.get("/api/v1/members", headers=ann) for _ in range(8)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] * 5 + [429] * 3
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await gateway.get("/api/v1/members", headers=bob)).status_code == 200


async def test_a_burst_from_one_address_is_limited_even_without_a_token(start_gateway):
    async with start_gateway(rate_limit_per_address=1, rate_limit_per_address_burst=3) as gateway:
        login = {"email": "someone@example.com", "password": "wrong"}
        answers = [await gateway.post("/api/v1/auth/login", json=login) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert "Retry-After" in answers[-1].headers
