"""Issue 21, Missing: editing an integrator's (or customer's) company details in its panel, through
the API's PATCH; a refused change marks its field and changes nothing."""

import re

import pytest

from tests.portal.signed_in import post_form, sign_in
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_the_distributor_edits_an_integrators_company_in_its_panel(platform, distributor, portal):
    name = f"Fjord Systems {unique_email('x')[2:10]}"
    answer = await distributor.admin.post("/api/v1/integrators", json={
        "name": name, "country": "NO", "representatives": [{"email": unique_email("fjord-rep")}]})
    assert answer.status_code == 201, answer.text
    org_id = answer.json()["id"]
    await sign_in(portal, distributor.admin_email)

    form = await portal.get(f"/integrators/{org_id}/edit", headers={"HX-Request": "true"})
    assert form.status_code == 200 and f'value="{name}"' in form.text

    refused = await post_form(portal, f"/integrators/{org_id}/edit",
                              {"name": name, "country": "Norway", "phone": ""}, htmx=True)
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in re.search(r'<input id="edit-country"[^>]*>', refused.text, re.S).group(0)
    assert (await distributor.admin.get(f"/api/v1/integrators/{org_id}")).json()["country"] == "NO"

    saved = await post_form(portal, f"/integrators/{org_id}/edit",
                            {"name": f"{name} AS", "country": "SE", "phone": "+46 8 123 456"}, htmx=True)
    assert saved.status_code == 200 and f"{name} AS saved." in saved.text
    org = (await distributor.admin.get(f"/api/v1/integrators/{org_id}")).json()
    assert (org["name"], org["country"], org["phone"]) == (f"{name} AS", "SE", "+46 8 123 456")
