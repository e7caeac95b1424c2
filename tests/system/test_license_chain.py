"""The whole chain through the public API, as its users would walk it: the vendor issues 100 to a
distributor, which splits 30 to an integrator, which transfers 10 to its customer, which activates 4.
Every view shows the right numbers, and every line stays conserved."""

import pytest

from entitlements.ledger import unconserved_lines
from shared.testing import eventually, isolated_infrastructure
from tests.system.platform import ADMIN_EMAIL, eventually_ok, running_platform, unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


@pytest.fixture
async def platform(infrastructure):
    async with isolated_infrastructure(infrastructure) as own, running_platform(own) as platform:
        yield platform


def partner(name: str, *emails: str) -> dict:
    return {"name": name, "country": "DE", "representatives": [
        {"email": e, "first_name": e.split("@")[0], "last_name": "Rep"} for e in emails]}


async def completed(client, transfer_id: str) -> dict:
    async def status():
        body = (await client.get(f"/api/v1/transfers/{transfer_id}")).json()
        return body if body.get("status") != "pending" else None

    return await eventually(status, timeout=20)


def product_row(page: dict, product_id: str) -> dict:
    return next(p for p in page["items"] if str(p.get("product_id", p.get("id"))) == product_id)


async def test_vendor_to_distributor_to_integrator_to_customer_to_activation(platform):
    vendor = await platform.sign_in(ADMIN_EMAIL)

    # The vendor creates a distributor (its first Admin is invited) and a product, then issues 100.
    distributor_admin = unique_email("distributor")
    answer = await vendor.post("/api/v1/distributors", json={"name": "Nordic Distribution", "country": "SE",
                                                             "admin_email": distributor_admin})
    assert answer.status_code == 201, answer.text
    distributor_id = answer.json()["id"]
    distributor = await platform.accept_invite(distributor_admin)

    answer = await vendor.post("/api/v1/products", json={
        "name": "Edge Gateway", "license_type": "perpetual", "description": "Gateway appliance licence",
        "deployment_type": "on_premise"})
    assert answer.status_code == 201, answer.text
    product_id = answer.json()["id"]
    issued = await eventually_ok(lambda: vendor.post("/api/v1/entitlements", json={
        "distributor_id": distributor_id, "sales_order": "SO-1001", "po_number": "PO-77",
        "order_date": "2026-11-01", "expiration_date": "2030-12-31",
        "lines": [{"product_id": product_id, "quantity": 100}]}), 201)
    entitlement_id = issued.json()["entitlement_id"]

    # The distributor creates an integrator with two representatives and splits 30 to it.
    integrator_admin = unique_email("integrator")
    answer = await distributor.post("/api/v1/integrators", json=partner("Acme Integration", integrator_admin,
                                                                        unique_email("second-rep")))
    assert answer.status_code == 201, answer.text
    integrator_id = answer.json()["id"]
    integrator = await platform.accept_invite(integrator_admin)
    split = await eventually_ok(lambda: distributor.post("/api/v1/transfers", json={
        "entitlement_id": entitlement_id, "product_id": product_id, "quantity": 30, "to_org_id": integrator_id,
        "cc_emails": ["finance@example.com"]}), 202)
    assert split.json()["status"] == "pending"
    outcome = await completed(distributor, split.json()["id"])
    assert (outcome["status"], outcome["quantity"]) == ("completed", 30), outcome

    # The integrator creates its customer and transfers 10; the customer activates 4.
    customer_admin = unique_email("customer")
    answer = await integrator.post("/api/v1/customers", json=partner("Harbour Hospital", customer_admin))
    assert answer.status_code == 201, answer.text
    customer_id = answer.json()["id"]
    customer = await platform.accept_invite(customer_admin)
    transfer = await eventually_ok(lambda: integrator.post("/api/v1/transfers", json={
        "entitlement_id": entitlement_id, "product_id": product_id, "quantity": 10, "to_org_id": customer_id}), 202)
    assert (await completed(integrator, transfer.json()["id"]))["status"] == "completed"
    answer = await customer.post("/api/v1/activations", json={
        "entitlement_id": entitlement_id, "product_id": product_id, "quantity": 4, "project_name": "Ward 3",
        "project_manager": "Dr. Lind", "serial_number": "SN-0001"})
    assert answer.status_code == 201, answer.text

    # Every view agrees: the products tab of each tier ...
    expected = {distributor: (70, 30, 0), integrator: (20, 10, 0), customer: (6, 0, 4)}
    for client, (available, transferred, activated) in expected.items():
        row = product_row((await client.get("/api/v1/licenses/products")).json(), product_id)
        assert (row["available"], row["transferred"], row["activated"]) == (available, transferred, activated), row

    # ... the entitlements tab and the entitlement's detail ...
    listed = (await integrator.get("/api/v1/entitlements")).json()["items"]
    assert [e["entitlement_id"] for e in listed] == [entitlement_id]
    assert (await customer.get(f"/api/v1/entitlements/{entitlement_id}")).status_code == 200

    # ... the transactions log, on both sides of each transfer ...
    sent = (await distributor.get("/api/v1/transactions")).json()["items"]
    assert [(t["action_type"], t["quantity"], t["counterparty"]["name"]) for t in sent] == [
        ("split", 30, "Acme Integration")]
    assert len(sent[0]["counterparty_representatives"]) == 2
    seen_by_integrator = (await integrator.get("/api/v1/transactions")).json()["items"]
    assert sorted((t["direction"], t["quantity"]) for t in seen_by_integrator) == [("received", 30), ("sent", 10)]

    # ... the activations list, and the audit log of each org.
    activations = (await customer.get("/api/v1/activations")).json()["items"]
    assert [(a["quantity"], a["serial_number"]) for a in activations] == [(4, "SN-0001")]

    async def audited_transfers():
        items = (await distributor.get("/api/v1/audit-events", params={"limit": 100})).json()["items"]
        return [i for i in items if i["type"] == "Transfers"]

    assert await eventually(audited_transfers)

    # Nobody sees another org's licenses: the distributor's entitlement is not the customer's to move.
    refused = await customer.post("/api/v1/transfers", json={
        "entitlement_id": entitlement_id, "product_id": product_id, "quantity": 1, "to_org_id": integrator_id})
    assert refused.status_code == 403

    # The dashboards of the three tiers, combined by the gateway from the services.
    dashboards = {name: (await client.get("/api/v1/dashboard")).json()
                  for name, client in (("distributor", distributor), ("integrator", integrator), ("customer", customer))}
    assert dashboards["distributor"]["licenses"] == {"available": 70, "transferred": 30}
    assert [t["quantity"] for t in dashboards["distributor"]["recent_transactions"]] == [30]
    assert dashboards["integrator"]["licenses"] == {"available": 20, "transferred": 10}
    assert dashboards["customer"]["licenses"] == {"available": 10, "activated": 4, "unactivated": 6}
    assert [a["quantity"] for a in dashboards["customer"]["recent_activations"]] == [4]
    assert all(d["missing"] == [] for d in dashboards.values()), dashboards
    # Each tier's counts, from orgs and identity: one child org and one member (its Admin) each.
    assert (dashboards["distributor"]["total_integrators"], dashboards["distributor"]["total_members"]) == (1, 1)
    assert (dashboards["integrator"]["total_customers"], dashboards["integrator"]["total_members"]) == (1, 1)
    assert dashboards["customer"]["total_members"] == 1

    async with platform.apps["entitlements"].state.session_factory() as session:
        assert await unconserved_lines(session) == []
