"""The transactions CSV export: Admin only, streamed, the same filters as the list, the chosen
columns, and no cell a spreadsheet would run as a formula."""

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

MOMENT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
async def exported(directory, transfer, apply, outcome):
    distributor = await directory.distributor("Exporter")
    partner = await directory.integrator(distributor, name="Formula Partner", representatives=2)
    product = uuid.uuid4()
    evil = await transfer(distributor, partner, product_id=str(product))
    await apply(
        outcome.completed(evil, distributor, partner, product_id=product, po_number='=HYPERLINK("http://evil.example")',
                          sales_order="+SO-1", product_name="@Suite", product_description="-10 seats", quantity=3,
                          action="split"),
        occurred_at=MOMENT,
    )
    plain = await transfer(distributor, partner)
    await apply(outcome.completed(plain, distributor, partner, po_number="PO-PLAIN"), occurred_at=MOMENT.replace(day=5))
    return dict(distributor=distributor, partner=partner, evil=evil, plain=plain, product=product)


def rows_of(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


async def test_an_admin_gets_a_streamed_file_with_formulas_neutralized(api, signed_in, exported):
    async with api.stream(
        "GET", "/api/v1/transactions/export.csv", headers=signed_in(exported["distributor"].id)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith('attachment; filename="transactions-')
        assert "content-length" not in response.headers  # streamed, not built in memory
        await response.aread()

    header, *rows = rows_of(response)
    assert header == [
        "Date & Time", "Product Name", "Product Description", "Action Type", "License QTY", "Entitlement ID",
        "PO Number", "QSC Sales Order", "Direction", "Counterparty", "Representatives",
    ]
    assert len(rows) == 2
    newest, evil = rows
    assert newest[6] == "PO-PLAIN"
    assert evil == [
        MOMENT.isoformat(), "'@Suite", "'-10 seats", "split", "3", "ENT-2026-000001",
        "'=HYPERLINK(\"http://evil.example\")", "'+SO-1", "sent", "Formula Partner",
        "rep0@formula-partner.example (Rep0 Formula); rep1@formula-partner.example (Rep1 Formula)",
    ]


async def test_chosen_columns_in_the_chosen_order_and_the_list_filters_apply(api, signed_in, exported):
    response = await api.get(
        "/api/v1/transactions/export.csv",
        params={"columns": "po_number, quantity,po_number", "product_id": str(exported["product"]), "order": "asc"},
        headers=signed_in(exported["distributor"].id),
    )
    assert response.status_code == 200
    assert rows_of(response) == [["PO Number", "License QTY"], ["'=HYPERLINK(\"http://evil.example\")", "3"]]

    received = await api.get(
        "/api/v1/transactions/export.csv", params={"columns": "direction,counterparty"},
        headers=signed_in(exported["partner"].id),
    )
    assert rows_of(received) == [["Direction", "Counterparty"], ["received", "Exporter"], ["received", "Exporter"]]


async def test_an_unknown_column_is_refused_before_anything_streams(api, signed_in, exported):
    response = await api.get(
        "/api/v1/transactions/export.csv", params={"columns": "po_number,password_hash"},
        headers=signed_in(exported["distributor"].id),
    )
    assert response.status_code == 422
    assert "password_hash" in response.json()["detail"] and "po_number" in response.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "project_manager", "auditor", "technician", "support"])
async def test_only_admins_export(api, signed_in, exported, role):
    response = await api.get("/api/v1/transactions/export.csv", headers=signed_in(exported["distributor"].id, role=role))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_another_org_exports_none_of_these_rows(api, signed_in, exported, directory):
    stranger = await directory.distributor("Stranger")
    response = await api.get("/api/v1/transactions/export.csv", headers=signed_in(stranger.id))
    assert response.status_code == 200
    assert len(rows_of(response)) == 1  # the header alone
