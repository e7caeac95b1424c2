"""The end customer's license pages, through the portal as a browser without script would use
them: the Licenses list and a license's page (its key for the Admin, lifecycle, rules), assigning
a license user (the initial password shown once), the Devices list and a reset; the integrator
sees the usage, not the key."""

import pytest

from shared.testing import eventually
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import post_form, sign_in
from tests.portal.world import member_with_role

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_end_customer_manages_its_licenses_devices_and_users_in_the_portal(platform, distributor, portal):
    customer = await end_customer_with_licenses(platform, distributor, quantity=4)
    made = await customer.admin.post("/api/v1/activations", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 3,
        "project_name": "Radiology workstations"})
    assert made.status_code == 201, made.text

    async def license_made():
        items = (await customer.admin.get("/api/v1/license-keys")).json()["items"]
        return items[0] if items else None

    license = await eventually(license_made, timeout=20)
    key = (await customer.admin.get(f"/api/v1/license-keys/{license['id']}")).json()["key"]
    activated = await platform.http.post("/api/v1/device/activate", json={
        "key": key, "fingerprint": "rad-1", "name": "Radiology PC 1"})
    assert activated.status_code == 201

    await sign_in(portal, customer.admin_email)
    listed = await portal.get("/license-keys", params={"search": "radiology"})
    assert listed.status_code == 200 and "Radiology workstations" in listed.text and "1 / 3" in listed.text
    page = await portal.get(f"/license-keys/{license['id']}")
    assert key in page.text and "Radiology PC 1" in page.text and "Usage rules" in page.text

    assigned = await post_form(portal, f"/license-keys/{license['id']}/users",
                               {"email": "tech@radiology.example", "activation_cap": "2"})
    assert assigned.status_code == 303
    shown = await portal.get(assigned.headers["location"])
    assert "Initial password (shown this once, also mailed):" in shown.text, shown.text[shown.text.find("flash"):][:300]
    assert "tech@radiology.example" in shown.text

    devices = await portal.get("/devices")
    assert "Radiology PC 1" in devices.text and "Reset" in devices.text
    reset = await post_form(portal, f"/devices/{activated.json()['id']}/reset", {"back": "/devices"})
    assert reset.status_code == 303
    assert "Reset: the device" in (await portal.get(reset.headers["location"])).text
    validated = await platform.http.post("/api/v1/device/validate", json={"key": key, "fingerprint": "rad-1"})
    assert validated.json()["code"] == "DEVICE_NOT_ACTIVATED"

    viewer = await member_with_role(platform, customer.admin, "viewer")
    portal.cookies.clear()
    await sign_in(portal, viewer)
    seen = await portal.get(f"/license-keys/{license['id']}")
    assert key not in seen.text and "Assign license user" not in seen.text and "Radiology workstations" in seen.text
