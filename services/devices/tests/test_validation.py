"""Validation: every code in a test of its own; expiry and grace follow the entitlement's
expiration date and the product's grace period; the activation's deactivation revokes (through
the bus); validation writes nothing per call, its time is written a moment later; 429s."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shared.events.billing import SubscriptionPaused, SubscriptionResumed
from shared.events.entitlements import ActivationDeactivated, EntitlementIssued, EntitlementLine, LicensesActivated
from shared.testing import eventually

TODAY = datetime.now(UTC).date()


async def activated(customer, device, fingerprint="fp", **license_terms):
    acme = await customer()
    license = await acme.activates(**license_terms)
    answer = await device.activate(license, fingerprint)
    assert answer.status_code == 201, answer.text
    return acme, license


async def test_valid(customer, device):
    _, license = await activated(customer, device)
    answer = await device.validate(license.key, "fp", nonce="n-123")
    assert (answer["valid"], answer["code"], answer["nonce"]) == (True, "VALID", "n-123")
    assert answer["license"]["rules"]["max_devices"] == 10 and answer["device"]["id"]
    assert "key" not in answer["license"]


async def test_not_found_answers_any_miss_alike(device):
    malformed = await device.validate("x", "fp")
    unknown = await device.validate("ABCD-" * 7 + "ABCD", "fp")
    assert malformed == unknown
    assert (unknown["valid"], unknown["code"], unknown["license"]) == (False, "NOT_FOUND", None)


async def test_device_not_activated(customer, device):
    _, license = await activated(customer, device)
    answer = await device.validate(license.key, "another machine")
    assert (answer["valid"], answer["code"], answer["device"]) == (False, "DEVICE_NOT_ACTIVATED", None)


async def test_too_many_devices(customer, device):
    _, license = await activated(customer, device, quantity=1)
    answer = await device.activate(license, "second")
    assert (answer.status_code, answer.json()["code"]) == (409, "TOO_MANY_DEVICES")


async def test_user_device_limit(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=3)
    user = (await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "one@acme.example"})).json()
    credentials = {"user_email": "one@acme.example", "user_password": user["initial_password"]}
    assert user["activation_cap"] == 1  # the product's default per-user cap
    assert (await device.activate(license, "a", **credentials)).status_code == 201
    answer = await device.activate(license, "b", **credentials)
    assert (answer.status_code, answer.json()["code"]) == (409, "USER_DEVICE_LIMIT")


async def test_expiring_is_still_valid(customer, device, api):
    acme, license = await activated(customer, device, expires_on=TODAY + timedelta(days=10))
    assert (await device.validate(license.key, "fp"))["code"] == "VALID"
    detail = (await api.get(f"/api/v1/license-keys/{license.id}", headers=acme.viewer)).json()
    assert detail["status"] == "expiring" and detail["key"] is None  # a Viewer never sees the key


async def test_in_grace_is_valid_until_the_grace_period_ends(customer, device):
    _, license = await activated(customer, device, expires_on=TODAY - timedelta(days=3), grace_period_days=5)
    answer = await device.validate(license.key, "fp")
    assert (answer["valid"], answer["code"]) == (True, "IN_GRACE")
    assert answer["license"]["grace_ends_on"] == (TODAY + timedelta(days=2)).isoformat()


async def test_expired_once_the_grace_period_is_over(customer, device):
    acme = await customer()
    license = await acme.activates(expires_on=TODAY - timedelta(days=6), grace_period_days=5)
    answer = await device.validate(license.key, "fp")
    assert (answer["valid"], answer["code"]) == (False, "EXPIRED")
    refused = await device.activate(license, "fp")
    assert (refused.status_code, refused.json()["code"]) == (403, "EXPIRED")


async def test_suspended_until_reinstated(customer, device, api):
    acme, license = await activated(customer, device)
    assert (await api.post(f"/api/v1/license-keys/{license.id}/suspend", headers=acme.admin)).status_code == 204
    assert (await device.validate(license.key, "fp"))["code"] == "SUSPENDED"
    listed = (await api.get("/api/v1/license-keys", params={"status": "suspended"}, headers=acme.admin)).json()
    assert [item["id"] for item in listed["items"]] == [str(license.id)]
    assert (await api.post(f"/api/v1/license-keys/{license.id}/reinstate", headers=acme.admin)).status_code == 204
    assert (await device.validate(license.key, "fp"))["code"] == "VALID"


async def test_paused_while_its_subscription_licence_is_paused_through_the_bus(customer, device, publish):
    acme, license = await activated(customer, device)
    seller = uuid.uuid4()
    await publish(SubscriptionPaused(subscription_id=uuid.uuid4(), seller_org_id=seller, customer_org_id=acme.org_id,
                                     activation_id=license.activation_id))

    async def code():
        return (await device.validate(license.key, "fp"))["code"]

    assert await eventually(lambda: _is(code, "PAUSED"))
    await publish(SubscriptionResumed(subscription_id=uuid.uuid4(), seller_org_id=seller, customer_org_id=acme.org_id,
                                      activation_id=license.activation_id, paused_days=3))
    assert await eventually(lambda: _is(code, "VALID"))


async def _is(code, expected: str) -> bool:
    return await code() == expected


async def test_revoked_when_the_activation_is_deactivated_through_the_bus(customer, device, publish, api):
    acme, license = await activated(customer, device)
    await publish(ActivationDeactivated(
        activation_id=license.activation_id, org_id=acme.org_id, entitlement_id=license.entitlement_id,
        product_id=license.product_id, product_name="Edge", quantity=license.quantity, project_name="Plant",
        available_after=license.quantity))

    async def revoked():
        return (await device.validate(license.key, "fp"))["code"] == "REVOKED"

    assert await eventually(revoked)
    detail = (await api.get(f"/api/v1/license-keys/{license.id}", headers=acme.admin)).json()
    assert detail["status"] == "revoked"


async def test_virtual_machine_not_allowed(customer, device):
    license = await (await customer()).activates(virtual_machines_allowed=False)
    answer = await device.activate(license, "vm-1", virtual_machine=True)
    assert (answer.status_code, answer.json()["code"]) == (403, "VIRTUAL_MACHINE_NOT_ALLOWED")
    assert (await device.activate(license, "metal-1")).status_code == 201


async def test_a_license_made_on_the_bus_takes_the_entitlements_expiry(customer, publish, api):
    acme = await customer()
    activation_id, product_id = uuid.uuid4(), uuid.uuid4()
    await publish(EntitlementIssued(
        entitlement_id="ENT-2026-424242", distributor_id=acme.distributor_id, sales_order="SO",
        order_date=TODAY, expiration_date=TODAY + timedelta(days=400),
        lines=[EntitlementLine(product_id=product_id, product_name="Core", quantity=4)]))
    await publish(LicensesActivated(activation_id=activation_id, org_id=acme.org_id, entitlement_id="ENT-2026-424242",
                                    product_id=product_id, product_name="Core", quantity=4, project_name="Bus"))

    async def listed():
        items = (await api.get("/api/v1/license-keys", params={"search": "ENT-2026-424242"},
                               headers=acme.admin)).json()["items"]
        return items if items and items[0]["expires_on"] else None

    [item] = await eventually(listed)
    assert (item["expires_on"], item["max_devices"], item["status"]) == (
        (TODAY + timedelta(days=400)).isoformat(), 4, "active")
    assert item["grace_period_days"] == 14  # an unknown product: the default rules


async def test_validation_writes_its_time_a_moment_later_not_per_call(customer, device, api, app):
    acme, license = await activated(customer, device)
    before = datetime.now(UTC)
    await asyncio.gather(*(device.validate(license.key, "fp") for _ in range(5)))

    async def written():
        items = (await api.get("/api/v1/devices", params={"license_id": str(license.id)},
                               headers=acme.admin)).json()["items"]
        moment = items[0]["last_validated_at"]
        return moment if moment and datetime.fromisoformat(moment) >= before else None

    assert await eventually(written, timeout=5)


async def test_validation_is_rate_limited_per_key(customer, device, api, app):
    _, license = await activated(customer, device)  # the key's first request of the minute
    limit = app.state.limit_per_key.limit
    answers = await asyncio.gather(*(api.post("/api/v1/device/validate", json={"key": license.key, "fingerprint": "fp"})
                                     for _ in range(limit)))
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) == 1 and int(limited[0].headers["Retry-After"]) >= 1
    assert "license key" in limited[0].json()["detail"]
    other = await (await customer()).activates()
    assert (await device.validate(other.key, "fp"))["code"] == "DEVICE_NOT_ACTIVATED"


async def test_validation_is_rate_limited_per_address(api, app):
    address = "203.0.113.7"
    limiter = app.state.limit_per_address
    while limiter.wait(address, time.monotonic()) == 0:
        pass
    body = {"key": "some key", "fingerprint": "fp"}
    # The last hop a proxy added is the client's address (the gateway sets it; an Ingress appends it).
    limited = await api.post("/api/v1/device/validate", json=body,
                             headers={"X-Forwarded-For": f"198.51.100.1, {address}"})
    assert limited.status_code == 429 and "address" in limited.json()["detail"]
    elsewhere = await api.post("/api/v1/device/validate", json=body, headers={"X-Forwarded-For": "203.0.113.8"})
    assert elsewhere.status_code == 200


async def test_bad_input_is_a_422_problem_and_counts_nothing(api):
    for content, headers in (('{"key": "k"}', {"content-type": "application/json"}),
                             ("not json", {"content-type": "application/json"}),
                             ('{"key": "k", "fingerprint": "f", "extra": 1}', {"content-type": "application/json"}),
                             ('{"key": "' + "k" * 65 + '", "fingerprint": "f"}', {"content-type": "application/json"})):
        answer = await api.post("/api/v1/device/validate", content=content, headers=headers)
        assert answer.status_code in (400, 422), (content, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
