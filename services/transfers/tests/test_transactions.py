"""The transactions log: the completed transfers an org sent or received, with the counterparty
and its representatives; filters, search by PO number, sort by every column, pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PRODUCT_A, PRODUCT_B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def ledger(directory, transfer, apply, outcome):
    """A distributor with two integrators: four completed transfers on four days, one rejected,
    one pending; and one transfer it received from its own parent distributor."""
    parent = await directory.distributor("Parent Distributor")
    distributor = await directory.integrator(parent, name="Mid Tier", representatives=0)
    alpha = await directory.integrator(distributor, name="Alpha Systems", representatives=2)
    beta = await directory.integrator(distributor, name="Beta Works", representatives=1)
    rows = [
        (alpha, PRODUCT_A, "Zeta Suite", "transfer", 100, "ENT-2026-000003", "PO-ALPHA-1", "SO-300", 0),
        (beta, PRODUCT_B, "Alpha Cam", "split", 5, "ENT-2026-000001", "PO-BETA-22", "SO-100", 1),
        (alpha, PRODUCT_B, "Alpha Cam", "split", 40, "ENT-2026-000002", None, "SO-200", 2),
        (beta, PRODUCT_A, "Zeta Suite", "transfer", 7, "ENT-2026-000004", "PO-BETA-23", None, 3),
    ]
    sent = []
    for receiver, product, name, action, quantity, entitlement, po, so, day in rows:
        transfer_id = await transfer(distributor, receiver, entitlement_id=entitlement, product_id=str(product))
        await apply(
            outcome.completed(transfer_id, distributor, receiver, product_id=product, product_name=name,
                              action=action, quantity=quantity, entitlement_id=entitlement, po_number=po,
                              sales_order=so),
            occurred_at=DAY + timedelta(days=day),
        )
        sent.append(transfer_id)
    refused = await transfer(distributor, alpha)
    await apply(outcome.rejected(refused, distributor, alpha))
    await transfer(distributor, beta)  # stays pending
    received = await transfer(parent, distributor, entitlement_id="ENT-2026-000009", product_id=str(PRODUCT_A))
    await apply(outcome.completed(received, parent, distributor, product_id=PRODUCT_A, product_name="Zeta Suite",
                                  quantity=500, entitlement_id="ENT-2026-000009", po_number="PO-PARENT",
                                  sales_order="SO-900"),
                occurred_at=DAY - timedelta(days=1))
    return dict(parent=parent, distributor=distributor, alpha=alpha, beta=beta, sent=sent, received=received)


async def transactions(api, signed_in, org, role="viewer", **params):
    response = await api.get("/api/v1/transactions", params=params, headers=signed_in(org.id, role=role))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_an_org_sees_what_it_sent_and_received_newest_first_with_counterparties(api, signed_in, ledger):
    items = await transactions(api, signed_in, ledger["distributor"])

    assert [i["id"] for i in items] == [str(t) for t in reversed(ledger["sent"])] + [str(ledger["received"])]
    newest = items[0]
    assert newest["occurred_at"] == (DAY + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    assert (newest["product_name"], newest["action_type"], newest["quantity"]) == ("Zeta Suite", "transfer", 7)
    assert (newest["entitlement_id"], newest["po_number"], newest["sales_order"]) == ("ENT-2026-000004", "PO-BETA-23", None)
    assert newest["product_description"] == "The core product"
    assert newest["direction"] == "sent"
    assert newest["counterparty"] == {"id": str(ledger["beta"].id), "name": "Beta Works"}
    assert newest["counterparty_representatives"] == [
        {"email": "rep0@beta-works.example", "first_name": "Rep0", "last_name": "Beta", "is_default": True}
    ]
    alpha_row = next(i for i in items if i["counterparty"]["name"] == "Alpha Systems")
    assert [r["email"] for r in alpha_row["counterparty_representatives"]] == [
        "rep0@alpha-systems.example", "rep1@alpha-systems.example"
    ]
    received = items[-1]
    assert received["direction"] == "received" and received["quantity"] == 500
    assert received["counterparty"] == {"id": str(ledger["parent"].id), "name": "Parent Distributor"}


async def test_the_receiver_sees_its_side_and_a_stranger_sees_nothing(api, signed_in, ledger, directory):
    alpha_items = await transactions(api, signed_in, ledger["alpha"])
    assert {i["id"] for i in alpha_items} == {str(ledger["sent"][0]), str(ledger["sent"][2])}
    assert {i["direction"] for i in alpha_items} == {"received"}
    assert {i["counterparty"]["name"] for i in alpha_items} == {"Mid Tier"}

    stranger = await directory.distributor("Stranger")
    assert await transactions(api, signed_in, stranger, role="admin") == []


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"from": "2026-03-11", "to": "2026-03-12"}, [2, 1]),
        ({"from": "2026-03-12T12:00:00Z"}, [3, 2]),
        ({"to": "2026-03-10T12:00:00Z"}, [0, "received"]),
        ({"product_id": str(PRODUCT_B)}, [2, 1]),
        ({"action_type": "transfer"}, [3, 0, "received"]),
        ({"search": "beta"}, [3, 1]),
        ({"search": "PO-"}, [3, 1, 0, "received"]),
        ({"search": "alpha-1"}, [0]),
        ({"search": "%"}, []),
    ],
)
async def test_filters_and_the_po_number_search(api, signed_in, ledger, params, expected):
    items = await transactions(api, signed_in, ledger["distributor"], **params)
    ids = [ledger["sent"][i] if isinstance(i, int) else ledger["received"] for i in expected]
    assert [i["id"] for i in items] == [str(t) for t in ids]


async def test_the_counterparty_filter(api, signed_in, ledger):
    items = await transactions(api, signed_in, ledger["distributor"], counterparty_id=str(ledger["alpha"].id))
    assert [i["id"] for i in items] == [str(ledger["sent"][2]), str(ledger["sent"][0])]
    from_parent = await transactions(api, signed_in, ledger["distributor"], counterparty_id=str(ledger["parent"].id))
    assert [i["id"] for i in from_parent] == [str(ledger["received"])]


@pytest.mark.parametrize(
    "sort, field",
    [
        ("occurred_at", "occurred_at"),
        ("product_name", "product_name"),
        ("action_type", "action_type"),
        ("quantity", "quantity"),
        ("entitlement_id", "entitlement_id"),
        ("po_number", "po_number"),
        ("sales_order", "sales_order"),
        ("counterparty", "counterparty"),
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_every_column_sorts_both_ways_and_pages_follow_without_gaps(api, signed_in, ledger, sort, field, order):
    def key(item):
        value = item[field]["name"] if field == "counterparty" else item[field]
        return value if value is not None else ""

    everything = await transactions(api, signed_in, ledger["distributor"], sort=sort, order=order)
    keys = [key(i) for i in everything]
    assert keys == sorted(keys, reverse=order == "desc")
    assert len(everything) == 5

    paged, cursor = [], None
    while True:
        params = {"sort": sort, "order": order, "limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await api.get("/api/v1/transactions", params=params, headers=signed_in(ledger["distributor"].id))
        paged += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in paged] == [i["id"] for i in everything]


async def test_bad_queries_are_refused_with_a_reason(api, signed_in, ledger):
    org = ledger["distributor"]
    first = await api.get("/api/v1/transactions", params={"limit": 1, "sort": "quantity"}, headers=signed_in(org.id))
    cursor = first.json()["next_cursor"]

    cases = [
        ({"sort": "password"}, 422),
        ({"order": "sideways"}, 422),
        ({"from": "last tuesday"}, 422),
        ({"action_type": "gift"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": cursor, "sort": "product_name"}, 400),
    ]
    for params, status in cases:
        response = await api.get("/api/v1/transactions", params=params, headers=signed_in(org.id))
        assert response.status_code == status, (params, response.text)
        assert response.json()["detail"]


async def test_roles_that_may_not_view_transactions_get_403_and_a_token_is_required(api, signed_in, ledger):
    assert (await api.get("/api/v1/transactions")).status_code == 401
    for role in ("admin", "project_manager", "technician", "support", "auditor", "viewer"):
        response = await api.get("/api/v1/transactions", headers=signed_in(ledger["distributor"].id, role=role))
        assert response.status_code == 200, role
