"""In a real browser: a refused dialog shows what to correct where the person is looking (the bad
field marked, focused and in view, so the button does not seem dead), and a confirmation is asked
in the portal's own dialog, never in the browser's confirm box."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.portal.browser import screenshot
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import open_signed_in

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]


async def test_a_refused_transfer_dialog_focuses_the_field_to_correct(platform, distributor, new_page):
    destination = await end_customer_with_licenses(platform, distributor, quantity=1, kind="integrators")
    page = await new_page()
    await page.set_viewport_size({"width": 1366, "height": 768})
    await open_signed_in(page, distributor.admin_email, "/licenses")
    await page.get_by_role("button", name=distributor.product_name).click()
    await page.locator("#panel").get_by_role("button", name="Transfer").click()
    dialog = page.locator("#modal")
    await dialog.get_by_label("Split before transfer").check()
    await dialog.get_by_label("Licenses to transfer").fill("1")
    await dialog.get_by_label("Integrator", exact=True).select_option(label=f"{destination.name} (NO)")
    cc = dialog.get_by_label("CC emails")
    await cc.fill("finance@quay.example, it-at-quay")
    await dialog.get_by_role("button", name="Next").click()

    await expect(dialog.get_by_text("Not an email address: it-at-quay.")).to_be_visible()
    await expect(cc).to_be_focused()
    await expect(cc).to_have_attribute("aria-invalid", "true")
    await expect(cc).to_be_in_viewport()
    await screenshot(page, "transfer-dialog-refused")
    await cc.fill("finance@quay.example")
    await dialog.get_by_role("button", name="Next").click()
    await expect(dialog.get_by_role("heading", name="Confirm the transfer")).to_be_visible()


async def test_deactivating_asks_in_the_portals_own_dialog(platform, distributor, new_page):
    customer = await end_customer_with_licenses(platform, distributor, quantity=1)
    answer = await customer.admin.post("/api/v1/activations", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 1,
        "project_name": "Ward 9", "project_manager": "Ola", "serial_number": "SN-9"})
    assert answer.status_code == 201, answer.text
    page = await new_page()
    browser_boxes = []
    page.on("dialog", lambda box: browser_boxes.append(box.message))
    await open_signed_in(page, customer.admin_email, "/activations")
    row = page.get_by_role("row").filter(has_text="Ward 9")

    await row.get_by_role("button", name="Deactivate").click()
    asked = page.locator("#confirm-dialog")
    await expect(asked).to_be_visible()
    await expect(asked).to_contain_text("Deactivate 1 × ")
    await screenshot(page, "confirm-dialog")
    await asked.get_by_role("button", name="Cancel").click()
    await expect(asked).to_be_hidden()
    await expect(row).not_to_contain_text("Deactivated")

    await row.get_by_role("button", name="Deactivate").click()
    await asked.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("row").filter(has_text="Ward 9")).to_contain_text("Deactivated")
    assert browser_boxes == []


async def test_a_new_york_reader_sees_new_york_times(platform, distributor, browser):
    """The audit log of the distributor, read in a browser set to New York: each moment the API
    gives in UTC is shown as New York's clock showed it, with the zone."""
    context = await browser.new_context(base_url=str(platform.http.base_url), timezone_id="America/New_York",
                                        viewport={"width": 1366, "height": 768})
    try:
        page = await context.new_page()
        await open_signed_in(page, distributor.admin_email, "/audit")
        events = (await distributor.admin.get("/api/v1/audit-events", params={"limit": 50})).json()["items"]
        assert events, "the distributor's creation is in its audit log"
        moment = datetime.fromisoformat(events[-1]["occurred_at"].replace("Z", "+00:00"))  # the first, on the page
        in_new_york = moment.astimezone(ZoneInfo("America/New_York"))
        shown = f"{in_new_york:%d %b %Y, %H:%M:%S} {in_new_york.tzname()}"
        assert in_new_york.tzname() in ("EST", "EDT")
        await expect(page.locator("#main")).to_contain_text(shown)
        await screenshot(page, "audit-new-york")
    finally:
        await context.close()
