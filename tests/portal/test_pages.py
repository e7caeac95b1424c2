"""The read-only pages over plain HTTP: filters reach the API, htmx gets only the part it swaps."""

import re

import pytest

from tests.portal.signed_in import sign_in
from tests.system.platform import ADMIN_EMAIL

pytestmark = pytest.mark.system  # the whole platform runs behind the portal


async def test_the_entitlements_tab_filters_by_po_number_and_htmx_gets_only_the_list(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    page = await portal.get("/licenses/entitlements", params={"search_field": "po_number",
                                                              "search": distributor.po_number})
    assert page.status_code == 200 and "<html" in page.text and distributor.entitlement_id in page.text

    part = await portal.get("/licenses/entitlements", params={"search_field": "po_number", "search": "PO-none"},
                            headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert "No entitlements match." in part.text and distributor.entitlement_id not in part.text


async def test_a_detail_panel_of_something_not_ours_says_so(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    panel = await portal.get("/licenses/entitlements/ENT-1999-000999/panel", headers={"HX-Request": "true"})
    assert panel.status_code == 200 and 'role="alert"' in panel.text
    assert (await portal.get(f"/licenses/products/{distributor.product_id}/panel")).status_code == 200


async def test_every_page_in_the_menu_opens_for_the_vendor_and_the_distributor(portal, platform, distributor):
    for email in (ADMIN_EMAIL, distributor.admin_email):
        portal.cookies.clear()
        await sign_in(portal, email)
        dashboard = await portal.get("/dashboard")
        menu = re.findall(r'<li><a href="(/[a-z-]+)"', dashboard.text)
        assert "/dashboard" in menu and len(menu) >= 4, menu
        for path in menu:
            page = await portal.get(path)
            assert page.status_code == 200 and "<h1>" in page.text, (email, path, page.status_code)


async def test_a_list_says_how_many_in_all_and_which_page(portal, platform, distributor):
    await sign_in(portal, distributor.admin_email)
    members = (await distributor.admin.get("/api/v1/members", params={"include_total": "true"})).json()["total"]
    page = await portal.get("/members")
    assert re.search(rf"{members} in all · Page 1 of 1\b", page.text), "the member list's totals"
