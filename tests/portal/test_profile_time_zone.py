"""Issue 21, Missing: times are in the reader's time zone, changeable in the profile: a chosen zone
is used on every page (with its name shown) until the reader goes back to the browser's."""

import pytest

from tests.portal.signed_in import post_form, sign_in

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_a_zone_chosen_in_the_profile_is_used_on_the_pages(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    assert "UTC" in (await portal.get("/audit")).text, "no zone known yet: UTC, and it says so"

    chosen = await post_form(portal, "/profile/time-zone", {"zone": "Asia/Tokyo"})
    assert chosen.status_code == 303
    assert "JST" in (await portal.get("/audit")).text
    assert 'value="Asia/Tokyo" selected' in (await portal.get("/profile")).text

    refused = await post_form(portal, "/profile/time-zone", {"zone": "../../etc/passwd"})
    assert refused.status_code == 422
    assert "JST" in (await portal.get("/audit")).text, "the refused choice changed nothing"

    await post_form(portal, "/profile/time-zone", {"zone": "browser"})
    page = (await portal.get("/audit")).text
    assert "JST" not in page and "UTC" in page
