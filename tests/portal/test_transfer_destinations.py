"""Issue 21: the transfer dialog's destination list is searchable and paged, so a distributor
with any number of integrators finds each one (the list is not cut at a fixed count)."""

import html
import json
import re
import uuid

import pytest
from playwright.async_api import expect

from tests.portal.signed_in import open_signed_in, post_form, sign_in
from tests.portal.test_first_pages import dialog_form

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]


def options(fragment: str) -> list[str]:
    return re.findall(r'<option value="[^"]+"[^>]*>([^<]*)</option>', fragment)


async def test_the_destination_search_finds_each_integrator_page_by_page(platform, distributor, portal):
    token = uuid.uuid4().hex[:8]
    names = [f"Lighthouse {token} {i:02d}" for i in range(27)]
    for name in names:
        answer = await distributor.admin.post("/api/v1/integrators", json={
            "name": name, "country": "NO", "representatives": [{"email": f"rep-{token}@example.com"}]})
        assert answer.status_code == 201, answer.text
    await sign_in(portal, distributor.admin_email)

    first = await portal.get("/transfers/destinations", params={"to_q": token}, headers={"HX-Request": "true"})
    assert first.status_code == 200
    assert options(first.text) == [f"{name} (NO)" for name in names[:25]]
    assert f"27 integrators match “{token}”" in html.unescape(first.text)
    cursor = json.loads(html.unescape(re.search(r"hx-vals='([^']+)'", first.text).group(1)))["cursor"]
    assert 'data-testid="destinations-next"' in first.text

    # The next page holds the rest; the integrator chosen on the first page stays chosen, listed first.
    chosen = re.search(rf'<option value="([^"]+)"[^>]*>{re.escape(names[0])} ', first.text).group(1)
    second = await portal.get("/transfers/destinations", params={"to_q": token, "cursor": cursor,
                                                                "to_org_id": chosen}, headers={"HX-Request": "true"})
    assert options(second.text) == [f"{name} (NO)" for name in (names[0], *names[25:])]
    assert re.search(rf'<option value="{chosen}" selected>', second.text)
    assert 'data-testid="destinations-next"' not in second.text

    # The dialog keeps the search as typed, and the confirmation names the chosen integrator.
    form = dialog_form(distributor, chosen, to_q=token)
    confirmation = await post_form(portal, "/transfers/review", form, htmx=True)
    assert re.search(rf"<dt>Transfer to</dt><dd>{re.escape(names[0])}</dd>", confirmation.text), confirmation.text


async def test_typing_in_the_dialogs_search_narrows_the_destination_list(platform, distributor, new_page):
    token = uuid.uuid4().hex[:8]
    for name in (f"Beacon {token} North", f"Beacon {token} South"):
        answer = await distributor.admin.post("/api/v1/integrators", json={
            "name": name, "country": "NO", "representatives": [{"email": f"rep-{token}@example.com"}]})
        assert answer.status_code == 201, answer.text
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/licenses")
    await page.get_by_role("button", name=distributor.product_name).click()
    await page.locator("#panel").get_by_role("button", name="Transfer").click()
    dialog = page.locator("#modal")

    search = dialog.get_by_label("Search integrators")
    await search.fill(f"{token} south")
    integrator = dialog.get_by_label("Integrator", exact=True)
    # htmx binds the field's triggers as it settles the dialog: typing that came first is searched
    # again with Enter (the field's "search" event), as a user would.
    for _ in range(10):
        if await integrator.locator("option").count() == 2:
            break
        await search.press("Enter")
        await page.wait_for_timeout(300)
    await expect(integrator.locator("option")).to_have_text(["Choose an integrator…", f"Beacon {token} South (NO)"])
    await integrator.select_option(label=f"Beacon {token} South (NO)")
    await expect(dialog.get_by_test_id("destinations-count")).to_contain_text("1 integrator match")
