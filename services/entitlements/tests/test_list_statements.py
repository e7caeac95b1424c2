"""The lists the dashboard asks for on every load (the products tab, the activations log) keep their
statements per shape and reuse them: whatever the requests before, each answer is computed with its
own caller's org, search, cursor and today's date."""

from datetime import timedelta

import entitlements.api.licenses
from entitlements.ledger import today


async def test_the_products_tab_answers_each_request_with_its_own_holder_search_and_day(
        api, pages, licensing, monkeypatch):
    camera, door = await licensing.product("Camera"), await licensing.product("Door")
    last_day = today() + timedelta(days=1)
    entitlement_id = (await licensing.issue([(camera, 10), (door, 2)], expiration_date=str(last_day)))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 4)
    stranger = licensing.as_(await licensing.add_org("distributor", licensing.orgs.vendor), "distributor")

    async def tab(headers, **params) -> dict:
        return {p["name"]: (p["available"], [e["status"] for e in p["entitlements"]])
                for p in await pages("/api/v1/licenses/products", headers, **params)}

    assert await tab(licensing.distributor) == {"Camera": (6, ["active"]), "Door": (2, ["active"])}
    assert await tab(stranger) == {}
    assert await tab(licensing.customer) == {"Camera": (4, ["active"])}
    assert await tab(licensing.distributor, limit=1) == {"Camera": (6, ["active"]), "Door": (2, ["active"])}
    assert await tab(licensing.customer, limit=1) == {"Camera": (4, ["active"])}
    assert await tab(licensing.distributor, search="door") == {"Door": (2, ["active"])}
    assert await tab(licensing.distributor, search="camera") == {"Camera": (6, ["active"])}
    assert await tab(licensing.customer, search="door") == {}
    assert await tab(licensing.distributor) == {"Camera": (6, ["active"]), "Door": (2, ["active"])}

    # The day after the last valid day, before the sweeper marks it: the tab says expired.
    monkeypatch.setattr(entitlements.api.licenses, "today", lambda: last_day + timedelta(days=1))
    assert await tab(licensing.distributor) == {"Camera": (6, ["expired"]), "Door": (2, ["expired"])}
    detail = await api.get(f"/api/v1/licenses/products/{door['id']}", headers=licensing.distributor)
    assert detail.status_code == 200 and detail.json()["entitlements"][0]["status"] == "expired"
    assert (await api.get(f"/api/v1/licenses/products/{door['id']}", headers=stranger)).status_code == 404


async def test_the_activations_log_answers_each_request_with_its_own_org_filters_and_cursor(
        pages, licensing, held):
    entitlement_id, camera = held
    orgs = licensing.orgs
    other = await licensing.add_org("customer", orgs.integrator)
    await licensing.transfer(entitlement_id, camera, orgs.distributor, orgs.integrator, 1)
    await licensing.transfer(entitlement_id, camera, orgs.integrator, other, 1)
    other_customer = licensing.as_(other, "customer")
    for project in ("Lobby", "Roof"):
        assert (await licensing.activate(entitlement_id, camera, 1, project_name=project)).status_code == 201
    assert (await licensing.activate(entitlement_id, camera, 1, headers=other_customer,
                                     project_name="Gate")).status_code == 201

    async def projects(headers, **params) -> list[str]:
        return [a["project_name"] for a in await pages("/api/v1/activations", headers, **params)]

    assert await projects(licensing.customer) == ["Roof", "Lobby"]
    assert await projects(other_customer) == ["Gate"]
    assert await projects(licensing.customer, limit=1) == ["Roof", "Lobby"]
    assert await projects(other_customer, limit=1) == ["Gate"]
    assert await projects(licensing.customer, search="roof") == ["Roof"]
    assert await projects(licensing.customer, search="lob") == ["Lobby"]
    assert await projects(other_customer, search="roof") == []
    assert await projects(licensing.customer, date_from=str(today())) == ["Roof", "Lobby"]
    assert await projects(licensing.customer, date_from=str(today() + timedelta(days=1))) == []
    assert await projects(other_customer, date_from=str(today())) == ["Gate"]
    assert await projects(licensing.customer) == ["Roof", "Lobby"]
    await licensing.conserved()
