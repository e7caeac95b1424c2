"""The detail panel of a customer shows the licenses it holds now (from entitlements, read with the
caller's token, so only a child org of the caller's can be shown)."""

import re

import pytest

from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import sign_in

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


def held(panel_html: str) -> str:
    return re.search(r'<section aria-labelledby="holdings-title">(.*?)</section>', panel_html, re.S).group(1)


async def test_a_customers_panel_shows_the_licenses_it_holds(platform, distributor, portal):
    customer = await end_customer_with_licenses(platform, distributor, quantity=3)
    assert (await customer.admin.post("/api/v1/activations", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 1,
        "project_name": "Ward 7", "project_manager": "Ola", "serial_number": "SN-1"})).status_code == 201
    await sign_in(portal, distributor.admin_email)

    panel = await portal.get(f"/customers/{customer.id}", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    section = held(panel.text)
    row = re.search(rf"<tr><td>{re.escape(distributor.product_name)}</td>(.*?)</tr>", section, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", row) == ["2", "0", "1"]  # available, transferred, activated
