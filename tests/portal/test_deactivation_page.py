"""In a real browser: an end customer's Admin deactivates an activation from the activations list
(after confirming), sees it marked deactivated, and its licenses are available again; a Viewer has
no Deactivate button."""

import pytest
from playwright.async_api import expect

from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import open_signed_in
from tests.portal.world import member_with_role

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_end_customer_admin_deactivates_an_activation_from_the_list(platform, distributor, new_page):
    customer = await end_customer_with_licenses(platform, distributor, quantity=4)
    made = await customer.admin.post("/api/v1/activations", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 3,
        "project_name": "Ward 3 monitors"})
    assert made.status_code == 201, made.text
    page = await new_page()
    await open_signed_in(page, customer.admin_email, "/activations")

    browser_boxes = []
    page.on("dialog", lambda box: browser_boxes.append(box.message))
    row = page.get_by_role("row").filter(has_text="Ward 3 monitors")
    await row.get_by_role("button", name="Deactivate").click()
    asked = page.locator("#confirm-dialog")  # the portal's own dialog, not the browser's box
    await expect(asked).to_contain_text(f"Deactivate 3 × {distributor.product_name} of project Ward 3 monitors? "
                                        "The licenses become available again.")
    await asked.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"Deactivated 3 × {distributor.product_name} of project Ward 3 monitors: the licenses are available again.")
    await expect(row).to_contain_text("Deactivated")
    await expect(row.get_by_role("button", name="Deactivate")).to_have_count(0)
    assert browser_boxes == []
    held = await customer.admin.get(f"/api/v1/licenses/products/{distributor.product_id}")
    assert (held.json()["available"], held.json()["activated"]) == (4, 0)

    # A Viewer sees an active activation without the button.
    assert (await customer.admin.post("/api/v1/activations", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 1,
        "project_name": "Ward 4 monitors"})).status_code == 201
    viewer = await new_page()
    await open_signed_in(viewer, await member_with_role(platform, customer.admin, "viewer"), "/activations")
    await expect(viewer.get_by_role("row").filter(has_text="Ward 4 monitors")).to_contain_text("Active")
    await expect(viewer.get_by_role("row").filter(has_text="Ward 3 monitors")).to_contain_text("Deactivated")
    await expect(viewer.get_by_role("button", name="Deactivate")).to_have_count(0)
    await customer.admin.aclose()
