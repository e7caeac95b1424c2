"""In a real browser: a distributor Admin creates an integrator with two representatives through
the form (the second chosen as default) and changes the default in the detail panel."""

import pytest
from playwright.async_api import expect

from tests.portal.browser import screenshot
from tests.portal.signed_in import open_signed_in
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_integrator_is_created_with_two_representatives_and_the_default_changed(distributor, new_page):
    name = f"Fjord Integration {unique_email('x')[2:10]}"
    first, second = unique_email("fjord-one"), unique_email("fjord-two")
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/integrators")
    await page.get_by_role("button", name="+ Integrator").click()

    dialog = page.locator("#modal")
    await dialog.get_by_label("Company name").fill(name)
    await dialog.get_by_label("Email domain").fill("fjord.example")
    await dialog.get_by_label("Country").fill("NO")
    await dialog.get_by_label("Tax/VAT ID").fill("NO999888777")
    await dialog.get_by_role("group", name="Representative 1").get_by_label("Email").fill(first)
    await dialog.get_by_role("button", name="Add representative").click()
    second_rep = dialog.get_by_role("group", name="Representative 2")
    await expect(second_rep.get_by_label("Email")).to_be_focused()
    await second_rep.get_by_label("Email").fill(second)
    await second_rep.get_by_label("First name").fill("Siri")
    await second_rep.get_by_label("Default representative").check()
    await screenshot(page, "integrator-create")
    await dialog.get_by_role("button", name="Create integrator").click()

    await expect(page.get_by_role("status").first).to_contain_text(f"Integrator {name} created.")
    panel = page.locator("#panel")
    await expect(panel.get_by_role("heading", name=name)).to_be_visible()
    await expect(panel.locator("li", has_text=second)).to_contain_text("Default")
    await expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("fjord.example")
    await screenshot(page, "integrators-panel")

    await panel.locator("li", has_text=first).get_by_role("button", name="Make default").click()
    await expect(panel.get_by_role("status")).to_contain_text(f"{first} is now the default representative.")
    await expect(panel.locator("li", has_text=first).locator("mark")).to_have_text("Default")

    await expect(panel.get_by_role("button", name="Archive")).to_be_visible()
