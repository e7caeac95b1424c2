"""In a real browser: an end customer's Admin activates licenses through the activate dialog and
finds them in the activations list and its CSV export (which follows the list's filters); asking for more than is left unactivated is refused in the
dialog with the API's reason, and nothing is activated."""

import csv
import io

import pytest
from playwright.async_api import expect

from tests.portal.browser import screenshot
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import open_signed_in

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_end_customer_admin_activates_licenses_and_an_over_activation_is_refused(
        platform, distributor, new_page):
    customer = await end_customer_with_licenses(platform, distributor, quantity=12)
    page = await new_page()
    await open_signed_in(page, customer.admin_email, "/activations")

    await page.get_by_role("button", name="Activate licenses").click()
    dialog = page.locator("#modal")
    await dialog.get_by_label("Licenses").select_option(label=f"{distributor.product_name} · entitlement "
                                                             f"{distributor.entitlement_id} · 12 unactivated")
    await dialog.get_by_label("Quantity").fill("5")
    await dialog.get_by_label("Project name").fill("Ward 7 monitors")
    await dialog.get_by_label("Project manager").fill("Dr. Lind")
    await dialog.get_by_label("Serial number").fill("SN-7700")
    await dialog.get_by_role("button", name="Activate").click()

    await expect(page.get_by_role("status")).to_contain_text("Activated 5 × Edge Gateway for project Ward 7 monitors")
    row = page.get_by_role("row").filter(has_text="Ward 7 monitors")
    await expect(row).to_contain_text("Dr. Lind")
    await expect(row.get_by_role("cell", name="5", exact=True)).to_be_visible()
    await screenshot(page, "activations")
    async with page.expect_download() as event:
        await page.get_by_role("button", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(open(await (await event.value).path(), encoding="utf-8-sig").read())))
    assert [(r["Project Name"], r["Quantity"], r["Serial Number"]) for r in exported] == [
        ("Ward 7 monitors", "5", "SN-7700")]

    await page.get_by_role("button", name="Activate licenses").click()
    await dialog.get_by_label("Licenses").select_option(label=f"{distributor.product_name} · entitlement "
                                                             f"{distributor.entitlement_id} · 7 unactivated")
    await dialog.get_by_label("Quantity").fill("8")
    await dialog.get_by_label("Project name").fill("Ward 8 monitors")
    await dialog.get_by_role("button", name="Activate").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Only 7 unactivated; 8 requested.")
    await expect(dialog.get_by_label("Quantity")).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "activate-refused")

    # Filtering the list (in place) carries the filter to the export too.
    await dialog.get_by_role("button", name="Cancel").click()
    await page.get_by_label("Search").fill("Ward 9")
    await page.get_by_label("Search").press("Enter")
    await expect(page.get_by_role("cell", name="No activations match these filters.")).to_be_visible()
    await expect(page.get_by_role("button", name="Export CSV")).to_have_attribute(
        "href", "/activations/export.csv?search=Ward+9")

    activations = (await customer.admin.get("/api/v1/activations")).json()["items"]
    assert [(a["quantity"], a["project_name"], a["serial_number"]) for a in activations] == [
        (5, "Ward 7 monitors", "SN-7700")]
    await customer.admin.aclose()
