"""In a real browser at 1366x768 (the laptop the documents are read on): every page of the menu,
for an Admin of each tier and a Viewer, opens with its heading, shows no developer text (permission
codes, raw JSON) and no horizontal scroll of the page itself; a picture of each is kept
(.artifacts/screenshots/, not committed). A click anywhere on a list's row opens its panel."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.portal.browser import screenshot
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import open_signed_in
from tests.system.platform import ADMIN_EMAIL

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

LAPTOP = {"width": 1366, "height": 768}
DEVELOPER_TEXT = re.compile(r"\([a-z_]+:[a-z_]+\)|\{\s*\"[a-z_]+\"\s*:|Traceback|None\b")


async def every_menu_page(page: Page, who: str) -> list[str]:
    menu = page.get_by_role("navigation", name="Main").get_by_role("link")
    paths = [urlsplit(await link.get_attribute("href")).path for link in await menu.all()]
    assert "/dashboard" in paths, paths
    for path in paths:
        await page.goto(path)
        await expect(page.locator("main h1")).to_be_visible()
        text = await page.locator("main").inner_text()
        assert not DEVELOPER_TEXT.search(text), (who, path, DEVELOPER_TEXT.search(text).group(0))
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{who} {path}: the page scrolls sideways by {overflow}px"
        await screenshot(page, f"{who}{path.replace('/', '-')}")
    return paths


async def test_every_page_of_every_tier_at_laptop_size(platform, distributor, viewer_email, new_page):
    integrator = await end_customer_with_licenses(platform, distributor, quantity=2, kind="integrators")
    customer = await end_customer_with_licenses(platform, distributor, quantity=2)
    people = {"vendor-admin": ADMIN_EMAIL, "distributor-admin": distributor.admin_email,
              "distributor-viewer": viewer_email, "integrator-admin": integrator.admin_email,
              "customer-admin": customer.admin_email}
    for who, email in people.items():
        page = await new_page()
        await page.set_viewport_size(LAPTOP)
        await open_signed_in(page, email, "/dashboard")
        await every_menu_page(page, who)


async def test_a_click_anywhere_on_a_row_opens_its_panel(distributor, new_page):
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/licenses")
    row = page.get_by_role("row").filter(has_text=distributor.product_name)
    await row.locator("td").nth(3).click()  # the Available figure, not the name's button
    await expect(page.locator("#panel").get_by_role("heading", name=distributor.product_name)).to_be_visible()


async def test_a_filter_applies_as_soon_as_it_changes(distributor, new_page):
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/transactions")
    await page.get_by_role("combobox", name="Product").select_option(label=distributor.product_name)
    await expect(page).to_have_url(re.compile(f"product_id={distributor.product_id}"))
    await page.get_by_role("button", name="Columns").click()
    await page.get_by_role("checkbox", name="PO number").uncheck()
    await expect(page.locator("#transactions-table th[data-column=po]")).to_be_hidden()
    await expect(page).to_have_url(re.compile(f"product_id={distributor.product_id}"))
