"""Issue 21: the transaction's detail panel shows whom the transfer was sent to, the CCs and the
note, as they were when it was asked for; the transfer dialog takes the note."""

import re

import pytest

from shared.testing import eventually
from tests.portal.signed_in import post_form, sign_in
from tests.portal.test_first_pages import a_destination, dialog_form

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]


async def test_the_panel_shows_the_representatives_ccs_and_note_of_the_transfer(platform, distributor, portal):
    to_org_id = await a_destination(platform, distributor)
    await sign_in(portal, distributor.admin_email)
    form = dialog_form(distributor, to_org_id, cc_emails="finance@quay.example",
                       note="For the new wing, PO to follow")
    confirmation = await post_form(portal, "/transfers/review", form, htmx=True)
    assert re.search(r'data-testid="note">For the new wing, PO to follow<', confirmation.text)
    sent = await post_form(portal, "/transfers", form, htmx=True)
    assert sent.status_code == 200, sent.text

    async def logged():
        answer = await distributor.admin.get("/api/v1/transactions", params={"limit": 200})
        found = [t for t in answer.json()["items"] if t["note"] == "For the new wing, PO to follow"]
        return found[0] if found else None

    transaction = await eventually(logged, timeout=20)
    # Today's directory changes after the transfer; the panel keeps what the transfer was sent to.
    changed = await distributor.admin.post(f"/api/v1/customers/{to_org_id}/representatives",
                                           json={"email": "someone-else@example.com", "first_name": "Other"})
    assert changed.status_code == 201, changed.text

    panel = await portal.get(f"/transactions/{transaction['id']}/panel", params={"at": transaction["occurred_at"]},
                             headers={"HX-Request": "true"})
    assert panel.status_code == 200
    sent_to = re.search(r'data-testid="sent-to">(.*?)</ul>', panel.text, re.S).group(1)
    assert "quay-rep@example.com" in sent_to and "notified" in sent_to
    assert "someone-else@example.com" not in sent_to
    assert re.search(r'data-testid="cc">finance@quay.example<', panel.text)
    assert re.search(r'data-testid="note"[^>]*>For the new wing, PO to follow<', panel.text)
