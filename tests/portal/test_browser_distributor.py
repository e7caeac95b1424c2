"""In a real browser (Debian's headless Chromium): a distributor Admin signs in, creates an
integrator with two representatives, splits a transfer to it with notify and CC, finds it in the
transactions and the audit log, and exports both as CSV; a Viewer of the same distributor sees
neither the export nor the transfer button."""

import csv
import io
import re

import pytest
from playwright.async_api import Page, expect

from shared.testing import eventually
from tests.portal.browser import screenshot
from tests.portal.signed_in import open_signed_in
from tests.portal.world import known_to_transfers
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def create_integrator(page: Page, name: str, representatives: list[str]) -> None:
    await page.goto("/integrators")
    await page.get_by_role("button", name="+ Integrator").click()
    dialog = page.locator("#modal")
    await dialog.get_by_label("Company name").fill(name)
    await dialog.get_by_label("Country").fill("DE")
    for index, email in enumerate(representatives):
        rep = dialog.locator("fieldset.representative").nth(index)
        if index:
            await dialog.get_by_role("button", name="Add representative").click()
            # The new row's Email takes the focus once the form is swapped in; filling before that
            # can lose the next field's text to it (seen under load: the first name in the Email).
            await expect(rep.get_by_label("Email")).to_be_focused()
        await rep.get_by_label("Email").fill(email)
        await rep.get_by_label("First name").fill(email.split("@")[0])
        await rep.get_by_label("Last name").fill("Rep")
    await dialog.get_by_role("button", name="Create integrator").click()
    await expect(page.get_by_role("row").filter(has_text=name)).to_be_visible()


async def downloaded_csv(page: Page, link) -> list[dict]:
    async with page.expect_download() as event:
        await link.click()
    download = await event.value
    text = open(await download.path(), encoding="utf-8-sig").read()
    return list(csv.DictReader(io.StringIO(text)))


async def test_distributor_admin_splits_a_transfer_and_finds_it_everywhere(platform, distributor, viewer_email,
                                                                           new_page):
    admin = distributor.admin
    before = (await admin.get(f"/api/v1/licenses/products/{distributor.product_id}")).json()["available"]
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/dashboard")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await screenshot(page, "dashboard-distributor-admin")

    # A new integrator with two representatives, through the Integrators page.
    integrator = f"Acme Integration {unique_email('x')[2:10]}"
    first_rep, second_rep = unique_email("rep-one"), unique_email("rep-two")
    await create_integrator(page, integrator, [first_rep, second_rep])
    await screenshot(page, "integrators")
    listed = (await admin.get("/api/v1/integrators", params={"q": integrator})).json()["items"]
    integrator_id = listed[0]["id"]
    await known_to_transfers(platform, integrator_id)

    # The licensing overview: the product's panel, then the transfer dialog with a split of 30.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Licensing").click()
    await page.get_by_role("button", name=distributor.product_name).click()
    panel = page.locator("#panel")
    await expect(panel.get_by_role("heading", name=distributor.product_name)).to_be_visible()
    await screenshot(page, "licensing-products")
    await panel.get_by_role("button", name="Transfer").click()
    dialog = page.locator("#modal")
    await expect(dialog.get_by_role("heading", name="Transfer licenses")).to_be_visible()
    await expect(dialog.get_by_test_id("available")).to_have_text(str(before))
    await dialog.get_by_label("Split before transfer").check()
    await dialog.get_by_label("Integrator", exact=True).select_option(label=f"{integrator} (DE)")
    quantity = dialog.get_by_label("Licenses to transfer")
    await quantity.fill(str(before + 1))  # more than available: the browser itself says so
    await dialog.get_by_role("button", name="Next").click()
    assert await quantity.evaluate("field => field.validity.rangeOverflow && field.validationMessage !== ''")
    await expect(dialog.get_by_role("heading", name="Transfer licenses")).to_be_visible()
    await quantity.fill("30")
    default_rep = dialog.get_by_label(re.compile(re.escape(first_rep)))
    await expect(default_rep).to_be_checked()
    await expect(dialog.get_by_label("Notify the representative of this transfer")).to_be_checked()
    await dialog.get_by_label("CC emails").fill("finance@example.com")
    await screenshot(page, "transfer-dialog")
    await dialog.get_by_role("button", name="Next").click()
    await expect(dialog.get_by_role("heading", name="Confirm the transfer")).to_be_visible()
    await expect(dialog.get_by_test_id("quantity")).to_have_text("30")
    await screenshot(page, "transfer-confirmation")
    await dialog.get_by_role("button", name="Transfer", exact=True).click()
    await expect(dialog.get_by_role("status")).to_contain_text("Completed", timeout=20_000)
    await screenshot(page, "transfer-completed")

    sent = (await admin.get("/api/v1/transfers")).json()["items"]
    assert [(t["quantity"], t["notify_representative"], t["cc_emails"]) for t in sent
            if t["to_org_id"] == integrator_id] == [(30, first_rep, ["finance@example.com"])]

    # The transactions, filtered to the new integrator: the split row, its panel with both
    # representatives, and the CSV of what the filters show.
    await page.goto("/transactions")
    await page.get_by_role("combobox", name="Integrator", exact=True).select_option(label=integrator)
    await page.get_by_role("button", name="Apply").click()
    await expect(page).to_have_url(re.compile(f"counterparty_id={integrator_id}"))
    row = page.get_by_role("row").filter(has_text=integrator)
    await expect(row).to_contain_text("Split")
    await expect(row).to_contain_text("30")
    await row.get_by_role("button").click()
    await expect(page.locator("#panel")).to_contain_text(second_rep)
    await screenshot(page, "transactions")
    exported = await downloaded_csv(page, page.get_by_role("button", name="Export CSV"))
    assert [(r["Action Type"], r["License QTY"], r["Entitlement ID"], r["PO Number"]) for r in exported] == [
        ("split", "30", distributor.entitlement_id, distributor.po_number)]

    # The audit log shows the transfer (audit follows the events: reload until it is there).
    async def audit_shows_the_transfer() -> bool:
        await page.goto("/audit?type=Transfers")
        return await page.get_by_role("row").filter(has_text="30").count() > 0

    await eventually(audit_shows_the_transfer, timeout=20)
    await screenshot(page, "audit-log")
    exported = await downloaded_csv(page, page.get_by_role("button", name="Export CSV"))
    assert exported and all(r["Type"] == "Transfers" for r in exported), exported
    assert any("30" in r["Message"] for r in exported), exported

    # Back on the dashboard: the split is among the recent transactions.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    recent = page.get_by_role("region", name="Recent transactions")
    await expect(recent.get_by_role("row").filter(has_text=integrator)).to_contain_text("30")
    await screenshot(page, "dashboard-after-transfer")

    # A Viewer of the same distributor: no export, no transfer, no audit log.
    viewer = await new_page()
    await open_signed_in(viewer, viewer_email, "/dashboard")
    menu = viewer.get_by_role("navigation", name="Main")
    await expect(menu.get_by_role("link", name="Transactions")).to_be_visible()
    await expect(menu.get_by_role("link", name="Audit & events")).to_have_count(0)
    await viewer.goto("/transactions")
    await expect(viewer.get_by_role("row").filter(has_text=integrator)).to_be_visible()
    await expect(viewer.get_by_role("button", name="Export CSV")).to_have_count(0)
    await viewer.goto("/licenses")
    await viewer.get_by_role("button", name=distributor.product_name).click()
    await expect(viewer.locator("#panel")).to_contain_text(f"{before - 30} available")
    await expect(viewer.locator("#panel").get_by_role("button", name="Transfer")).to_have_count(0)
    await screenshot(viewer, "licensing-viewer")

