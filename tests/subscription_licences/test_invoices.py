"""Invoices: up to 20 at once, numbered without gaps, each mailed to the customer's Admins with
its PDF; idempotent sending; open -> paid or void, the licence's billing status following."""

import io
import uuid

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from shared.testing import eventually

from tests.subscription_licences.conftest import add_admin


@pytest.fixture
async def assigned(console):
    """Makes `n` licences of 1 assigned to the customer, on a plan of 10.00 EUR a month."""

    async def make(n: int, plan=None) -> list[dict]:
        holding = await console.holding(n)
        plan = plan or await console.plan("10.00")
        return [await console.licence(holding, 1, plan=plan, name=f"Screen {i}",
                                      customer_org_id=str(console.orgs.customer)) for i in range(n)]

    return make


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_20_selected_send_20_invoices_with_consecutive_numbers_each_mailed_with_its_pdf(
        console, assigned, notify_app, mailbox):
    admin = f"admin.{uuid.uuid4().hex[:8]}@customer.example"
    await add_admin(notify_app, console.orgs.customer, admin)
    licences = await assigned(20)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"subscription_ids": [licence["id"] for licence in licences]}
    sent = await console.billing.post("/api/v1/invoices", headers={**console.integrator, **key}, json=body)
    assert sent.status_code == 201, sent.text
    invoices = sent.json()["items"]
    assert [invoice["number"] for invoice in invoices] == [f"INV-{n:06d}" for n in range(1, 21)]
    assert {invoice["total"] for invoice in invoices} == {"10.00"}

    def mails():
        return [m for m in mailbox.received if m["To"] == admin]
    await eventually(lambda: _async(len(mails()) == 20), timeout=30)
    for mail in mails():
        attachment = next(part for part in mail.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        number = attachment.get_filename().removesuffix(".pdf")
        text = pdf_text(attachment.get_content())
        assert f"Invoice {number}" in text and "Total: 10.00 EUR" in text
    assert sorted(mail["Subject"].split()[1] for mail in mails()) == [invoice["number"] for invoice in invoices]

    again = await console.billing.post("/api/v1/invoices", headers={**console.integrator, **key}, json=body)
    assert again.status_code == 201 and again.json() == sent.json()
    async with console.billing_app.state.engine.connect() as conn:
        count = await conn.scalar(sa.text("SELECT count(*) FROM invoices WHERE issuer_org_id = :org"),
                                  {"org": console.orgs.integrator})
        mailed = await conn.scalar(sa.text(
            "SELECT count(*) FROM outbox WHERE routing_key = 'billing.invoice.issued'"
            " AND body -> 'payload' ->> 'issuer_org_id' = :org"), {"org": str(console.orgs.integrator)})
    assert count == mailed == 20  # the retry issued nothing, so notify has nothing more to send
    pdf = await console.billing.get(f"/api/v1/invoices/{invoices[0]['id']}.pdf", headers=console.customer)
    assert pdf.status_code == 200 and "Total: 10.00 EUR" in pdf_text(pdf.content)
    listed = (await console.billing.get("/api/v1/subscriptions", headers=console.integrator)).json()["items"]
    assert {licence["billing_status"] for licence in listed} == {"invoiced"}


async def _async(value):
    return value


async def test_21_licences_are_refused_with_422(console):
    response = await console.billing.post("/api/v1/invoices", headers=console.integrator,
                                          json={"subscription_ids": [str(uuid.uuid4()) for _ in range(21)]})
    assert response.status_code == 422


async def test_an_unassigned_licence_is_refused_and_nothing_is_numbered(console, assigned):
    licences = await assigned(1)
    unassigned = await console.licence(await console.holding(1), 1)
    response = await console.billing.post("/api/v1/invoices", headers=console.integrator,
                                          json={"subscription_ids": [licences[0]["id"], unassigned["id"]]})
    assert response.status_code == 409
    assert "Lobby screens" in response.json()["detail"]
    first = await console.billing.post("/api/v1/invoices", headers=console.integrator,
                                       json={"subscription_ids": [licences[0]["id"]]})
    assert first.json()["items"][0]["number"] == "INV-000001"


async def test_paid_and_void_follow_open_and_the_licence_billing_status_follows(console, assigned):
    (licence,) = await assigned(1)
    invoice = (await console.billing.post("/api/v1/invoices", headers=console.integrator,
                                          json={"subscription_ids": [licence["id"]]})).json()["items"][0]
    paid = await console.billing.post(f"/api/v1/invoices/{invoice['id']}/pay", headers=console.integrator)
    assert paid.status_code == 200 and paid.json()["state"] == "paid"
    detail = (await console.billing.get(f"/api/v1/subscriptions/{licence['id']}", headers=console.integrator)).json()
    assert detail["billing_status"] == "paid"
    assert (await console.billing.post(f"/api/v1/invoices/{invoice['id']}/void",
                                       headers=console.integrator)).status_code == 409
    assert (await console.billing.post(f"/api/v1/invoices/{invoice['id']}/pay",
                                       headers=console.customer)).status_code == 403
    stranger = console.as_(console.orgs.distributor, "distributor")
    assert (await console.billing.get(f"/api/v1/invoices/{invoice['id']}", headers=stranger)).status_code == 404
    assert (await console.billing.get(f"/api/v1/invoices/{invoice['id']}.pdf", headers=stranger)).status_code == 404
