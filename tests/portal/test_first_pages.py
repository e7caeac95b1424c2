"""Issue 21, Broken: what new users hit first, over plain HTTP. The end customer's recent
activations show the date, the person and whether an activation still stands; an integrator's
pages do not put the distributor that sent it licenses under "Customer"; the transfer dialog
stops a bad CC address at Next, next to its field, and a declined notification mails no one."""

import re

import pytest

from shared.testing import eventually
from tests.portal.end_customer import end_customer_with_licenses
from tests.portal.signed_in import post_form, sign_in
from tests.portal.world import known_to_transfers

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DOCUMENT_TIME = re.compile(r"\d{2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2}")


def section(page: str, heading_id: str) -> str:
    return re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r"<tr[^>]*>(.*?)</tr>", html.split("<tbody>", 1)[1], re.S)


def cell(row: str, column: str) -> str:
    return re.search(rf'<td data-column="{column}">(.*?)</td>', row, re.S).group(1).strip()


async def test_the_customer_dashboard_shows_when_who_and_whether_an_activation_stands(platform, distributor, portal):
    customer = await end_customer_with_licenses(platform, distributor, quantity=2)
    activated = []
    for project in ("Ward 7", "Ward 8"):
        answer = await customer.admin.post("/api/v1/activations", json={
            "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": 1,
            "project_name": project, "project_manager": "Ola", "serial_number": f"SN-{project[-1]}"})
        assert answer.status_code == 201, answer.text
        activated.append(answer.json())
    deactivated = await customer.admin.post(f"/api/v1/activations/{activated[1]['id']}/deactivate")
    assert deactivated.status_code == 200, deactivated.text

    await sign_in(portal, customer.admin_email)
    recent = rows(section((await portal.get("/dashboard")).text, "recent-activations"))
    assert len(recent) == 2
    for row in recent:
        assert DOCUMENT_TIME.search(row), f"no activation date: {row}"
        assert not UUID.search(row), f"an id where a person's name belongs: {row}"
        assert activated[0]["activated_by_name"] in row
    assert sorted("Deactivated" in row for row in recent) == [False, True]


async def test_an_integrators_pages_show_its_distributor_as_the_sender_not_as_a_customer(
        platform, distributor, portal):
    integrator = await end_customer_with_licenses(platform, distributor, quantity=2, kind="integrators")
    await sign_in(portal, integrator.admin_email)

    listed = rows((await portal.get("/transactions")).text)
    received = [row for row in listed if distributor.name in row]
    assert received, listed
    assert cell(received[0], "counterparty") == "—"
    assert cell(received[0], "received_from") == distributor.name

    dashboard = section((await portal.get("/dashboard")).text, "recent-transactions")
    header = re.findall(r'<th scope="col">(.*?)</th>', dashboard)
    row_cells = re.findall(r"<td>(.*?)</td>", rows(dashboard)[0], re.S)
    assert row_cells[header.index("Customer")] == "—"
    assert row_cells[header.index("Received from")] == distributor.name


async def a_destination(platform, distributor) -> str:
    answer = await distributor.admin.post("/api/v1/customers", json={
        "name": "Quay Clinic", "country": "NO", "representatives": [{"email": "quay-rep@example.com"}]})
    assert answer.status_code == 201, answer.text
    await known_to_transfers(platform, answer.json()["id"])
    return answer.json()["id"]


def dialog_form(distributor, to_org_id: str, **fields) -> dict:
    return {"entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "split": "on",
            "quantity": "1", "to_org_id": to_org_id, "notify": "on", "cc_emails": "", **fields}


async def test_a_bad_cc_address_is_stopped_at_next_beside_its_field(platform, distributor, portal):
    to_org_id = await a_destination(platform, distributor)
    await sign_in(portal, distributor.admin_email)

    refused = await post_form(portal, "/transfers/review",
                              dialog_form(distributor, to_org_id, cc_emails="finance@quay.example, it-at-quay"),
                              htmx=True)
    assert refused.status_code == 422
    cc_input = re.search(r'<input id="f-cc"[^>]*>', refused.text).group(0)
    assert 'aria-invalid="true"' in cc_input and 'aria-describedby="f-cc_emails-error"' in cc_input
    assert re.search(r'id="f-cc_emails-error"[^>]*>Not an email address: it-at-quay\.<', refused.text)
    assert "Transfer licenses" in refused.text and 'value="finance@quay.example, it-at-quay"' in refused.text

    confirmed = await post_form(portal, "/transfers/review",
                                dialog_form(distributor, to_org_id, cc_emails="finance@quay.example"), htmx=True)
    assert confirmed.status_code == 200 and "Confirm the transfer" in confirmed.text


async def test_a_quantity_beyond_the_available_is_marked_on_its_field(platform, distributor, portal):
    to_org_id = await a_destination(platform, distributor)
    await sign_in(portal, distributor.admin_email)
    refused = await post_form(portal, "/transfers/review", dialog_form(distributor, to_org_id, quantity="100000"),
                              htmx=True)
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in re.search(r'<input id="f-quantity"[^>]*>', refused.text, re.S).group(0)
    assert 'id="f-quantity-error"' in refused.text


async def test_an_unticked_notification_sends_no_representative_and_no_cc(platform, distributor, portal):
    to_org_id = await a_destination(platform, distributor)
    await sign_in(portal, distributor.admin_email)
    form = dialog_form(distributor, to_org_id, notify="", cc_emails="finance@quay.example")
    confirmation = await post_form(portal, "/transfers/review", form, htmx=True)
    assert re.search(r'data-testid="cc">—\s*\(no one is notified\)', confirmation.text)

    sent = await post_form(portal, "/transfers", form, htmx=True)
    assert sent.status_code == 200, sent.text
    transfer_id = re.search(r'data-transfer-id="([^"]+)"', sent.text).group(1)

    async def recorded():
        answer = await distributor.admin.get(f"/api/v1/transfers/{transfer_id}")
        return answer.json() if answer.status_code == 200 else None

    transfer = await eventually(recorded)
    assert transfer["notify_representative"] in (None, False, "", "false")
    assert transfer["cc_emails"] == []
