"""Issue 21: the end customer's Viewer sees the recent audits on its dashboard, as document 2
shows every member of the customer, and may open the audit log but not export it."""

import re

import pytest

from shared.testing import eventually
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import sign_in
from tests.portal.world import member_with_role

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]


async def test_the_customers_viewer_sees_the_recent_audits(platform, distributor, portal):
    customer = await end_customer_with_licenses(platform, distributor, quantity=1)
    viewer_email = await member_with_role(platform, customer.admin, "viewer")
    await sign_in(portal, viewer_email)

    async def recent_audits():
        dashboard = (await portal.get("/dashboard")).text
        audits = re.search(r'<section aria-labelledby="recent-audits">(.*?)</section>', dashboard, re.S)
        assert audits, "no recent audits on the Viewer's dashboard"
        return audits.group(1) if f"{viewer_email} joined as Viewer" in audits.group(1) else None

    # The audit log hears of the new member through the bus, a moment after the invite is accepted.
    assert "View all" in await eventually(recent_audits, timeout=20)

    log = await portal.get("/audit")
    assert log.status_code == 200 and "<h1>" in log.text
    assert "/audit/export.csv" not in log.text
    assert (await portal.get("/audit/export.csv")).status_code in (403, 404)
