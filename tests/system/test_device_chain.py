"""The licensed software's side, through the public API and the real services: the vendor sets a
product's device rules; an end customer activates 10 for a project; the license it becomes lets
10 devices in through the gateway without a member token and refuses the 11th; a reset frees a
slot within the reset budget; a license user with a cap of 2 cannot activate a third device; the
integrator sees the usage; deactivating the activation revokes the license."""

import pytest

from shared.testing import eventually, isolated_infrastructure
from tests.system.platform import ADMIN_EMAIL, eventually_ok, running_platform, unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


@pytest.fixture
async def platform(infrastructure):
    async with isolated_infrastructure(infrastructure) as own, running_platform(own) as platform:
        yield platform


def partner(name: str, email: str) -> dict:
    return {"name": name, "country": "DE", "representatives": [
        {"email": email, "first_name": "Rep", "last_name": name.split()[0]}]}


async def settled(client, transfer) -> str:
    async def status():
        body = (await client.get(f"/api/v1/transfers/{transfer.json()['id']}")).json()
        return body["status"] if body.get("status") != "pending" else None

    return await eventually(status, timeout=20)


async def test_an_activation_becomes_a_license_the_devices_use(platform):
    vendor = await platform.sign_in(ADMIN_EMAIL)
    emails = {tier: unique_email(tier) for tier in ("distributor", "integrator", "customer")}
    distributor_id = (await vendor.post("/api/v1/distributors", json={
        "name": "Nordic", "country": "SE", "admin_email": emails["distributor"]})).json()["id"]
    distributor = await platform.accept_invite(emails["distributor"])
    product_id = (await vendor.post("/api/v1/products", json={
        "name": "Edge", "license_type": "subscription", "device_resets_per_30_days": 1,
        "virtual_machines_allowed": False})).json()["id"]
    entitlement_id = (await eventually_ok(lambda: vendor.post("/api/v1/entitlements", json={
        "distributor_id": distributor_id, "sales_order": "SO-9", "order_date": "2026-11-01",
        "expiration_date": "2030-12-31", "lines": [{"product_id": product_id, "quantity": 50}]}), 201)
    ).json()["entitlement_id"]
    line = {"entitlement_id": entitlement_id, "product_id": product_id}
    integrator_id = (await distributor.post("/api/v1/integrators", json=partner(
        "Acme Integration", emails["integrator"]))).json()["id"]
    integrator = await platform.accept_invite(emails["integrator"])
    sent = await eventually_ok(lambda: distributor.post("/api/v1/transfers", json={
        **line, "quantity": 20, "to_org_id": integrator_id}), 202)
    assert await settled(distributor, sent) == "completed"
    customer_id = (await integrator.post("/api/v1/customers", json=partner(
        "Harbour Hospital", emails["customer"]))).json()["id"]
    customer = await platform.accept_invite(emails["customer"])
    sent = await eventually_ok(lambda: integrator.post("/api/v1/transfers", json={
        **line, "quantity": 12, "to_org_id": customer_id}), 202)
    assert await settled(integrator, sent) == "completed"
    activation = (await customer.post("/api/v1/activations", json={
        **line, "quantity": 10, "project_name": "Ward 3"})).json()

    async def license_made():
        items = (await customer.get("/api/v1/license-keys")).json()["items"]
        return items[0] if items else None

    listed = await eventually(license_made, timeout=20)
    assert (listed["max_devices"], listed["expires_on"], listed["device_resets_per_30_days"]) == (
        10, "2030-12-31", 1)
    key = (await customer.get(f"/api/v1/license-keys/{listed['id']}")).json()["key"]

    # The software calls without a member token.
    device_api = platform.http
    for n in range(10):
        answer = await device_api.post("/api/v1/device/activate", json={"key": key, "fingerprint": f"m-{n}"})
        assert answer.status_code == 201, answer.text
    refused = await device_api.post("/api/v1/device/activate", json={"key": key, "fingerprint": "m-10"})
    assert (refused.status_code, refused.json()["code"]) == (409, "TOO_MANY_DEVICES")
    vm = await device_api.post("/api/v1/device/activate", json={"key": key, "fingerprint": "vm", "virtual_machine": True})
    assert vm.json()["code"] in ("TOO_MANY_DEVICES", "VIRTUAL_MACHINE_NOT_ALLOWED")

    devices = (await customer.get("/api/v1/devices", params={"status": "active"})).json()["items"]
    assert len(devices) == 10
    assert (await customer.post(f"/api/v1/devices/{devices[0]['id']}/reset")).status_code == 204
    over_budget = await customer.post(f"/api/v1/devices/{devices[1]['id']}/reset")
    assert over_budget.status_code == 409

    user = (await customer.post("/api/v1/license-users", json={
        "license_id": listed["id"], "email": "tech@harbour.example", "activation_cap": 2})).json()
    credentials = {"key": key, "user_email": "tech@harbour.example", "user_password": user["initial_password"]}
    assert (await device_api.post("/api/v1/device/activate", json={**credentials, "fingerprint": "t-1"})).status_code == 201
    full = await device_api.post("/api/v1/device/activate", json={**credentials, "fingerprint": "t-2"})
    assert full.json()["code"] == "TOO_MANY_DEVICES"  # the license's 10 come before the user's cap

    usage = (await integrator.get("/api/v1/license-keys")).json()["items"]
    assert [(item["devices_in_use"], item["max_devices"]) for item in usage] == [(10, 10)]

    validated = await device_api.post("/api/v1/device/validate", json={"key": key, "fingerprint": "m-5"})
    assert validated.json()["code"] == "VALID"
    assert (await customer.post(f"/api/v1/activations/{activation['id']}/deactivate")).status_code in (200, 204)

    async def revoked():
        answer = await device_api.post("/api/v1/device/validate", json={"key": key, "fingerprint": "m-5"})
        return answer.json()["code"] == "REVOKED"

    assert await eventually(revoked, timeout=20)
