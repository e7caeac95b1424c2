"""The licensing overview's products tab: per product, the caller's available, transferred and
activated licenses and the entitlements they come from."""

import uuid


async def test_each_tier_sees_its_own_quantities_per_product(api, pages, licensing):
    camera, door = await licensing.product("Camera", "subscription"), await licensing.product("Door", "perpetual")
    first = (await licensing.issue([(camera, 10), (door, 4)], sales_order="SO-1", po_number="PO-1",
                                   order_date="2026-01-05"))["entitlement_id"]
    second = (await licensing.issue([(camera, 5)], sales_order="SO-2", order_date="2026-02-05"))["entitlement_id"]
    await licensing.down_to_customer(first, camera, 6)
    assert (await licensing.activate(first, camera, 2)).status_code == 201

    distributor = {p["name"]: p for p in await pages("/api/v1/licenses/products", licensing.distributor)}
    assert set(distributor) == {"Camera", "Door"}
    assert (distributor["Camera"]["available"], distributor["Camera"]["transferred"]) == (4 + 5, 6)
    assert [(e["entitlement_id"], e["sales_order"], e["available"], e["transferred"])
            for e in distributor["Camera"]["entitlements"]] == [(second, "SO-2", 5, 0), (first, "SO-1", 4, 6)]
    assert distributor["Camera"]["license_type"] == "subscription"

    [integrator] = await pages("/api/v1/licenses/products", licensing.integrator)
    assert (integrator["name"], integrator["available"], integrator["transferred"]) == ("Camera", 0, 6)

    [customer] = await pages("/api/v1/licenses/products", licensing.customer)
    assert (customer["available"], customer["activated"]) == (4, 2)
    [entitlement] = customer["entitlements"]
    assert (entitlement["entitlement_id"], entitlement["po_number"], entitlement["order_date"]) == (
        first, "PO-1", "2026-01-05")

    detail = await api.get(f"/api/v1/licenses/products/{door['id']}", headers=licensing.distributor)
    assert detail.status_code == 200 and detail.json()["available"] == 4
    assert (await api.get(f"/api/v1/licenses/products/{door['id']}", headers=licensing.customer)).status_code == 404
    stranger = licensing.as_(await licensing.add_org("distributor", licensing.orgs.vendor), "distributor")
    assert await pages("/api/v1/licenses/products", stranger) == []
    await licensing.conserved()


async def test_the_products_tab_searches_sorts_and_pages(pages, licensing):
    tag = uuid.uuid4().hex[:6]
    made = [await licensing.product(f"{tag} {name}", kind, description=description)
            for name, kind, description in (("Alpha", "trial", "z"), ("Beta", "term", None), ("Gamma", "trial", "a"))]
    lines = [(product, quantity) for product, quantity in zip(made, (3, 1, 2))]
    await licensing.issue(lines)

    async def names(**params) -> list[str]:
        return [p["name"].split()[1] for p in await pages("/api/v1/licenses/products", licensing.distributor,
                                                           **params)]

    assert await names() == ["Alpha", "Beta", "Gamma"]
    assert await names(search=f"{tag} b") == ["Beta"]
    assert await names(search="TRIAL") == ["Alpha", "Gamma"]
    assert await names(sort="available", order="desc", limit=1) == ["Alpha", "Gamma", "Beta"]
    assert await names(sort="description", order="asc", limit=2) == ["Beta", "Gamma", "Alpha"]
    for sort in ("name", "license_type", "description", "available", "transferred", "activated"):
        assert sorted(await names(sort=sort, order="desc", limit=1)) == ["Alpha", "Beta", "Gamma"]


async def test_an_org_sees_what_its_child_orgs_hold_and_no_further(api, pages, licensing):
    """The detail panel of an integrator (or customer) shows the licenses that org holds."""
    camera = await licensing.product("Camera", "subscription")
    entitlement = (await licensing.issue([(camera, 10)]))["entitlement_id"]
    await licensing.down_to_customer(entitlement, camera, 6)
    assert (await licensing.activate(entitlement, camera, 2)).status_code == 201
    orgs = licensing.orgs

    [held] = await pages("/api/v1/licenses/products", licensing.distributor, org_id=str(orgs.integrator))
    assert (held["name"], held["available"], held["transferred"], held["activated"]) == ("Camera", 0, 6, 0)
    [held] = await pages("/api/v1/licenses/products", licensing.integrator, org_id=str(orgs.customer))
    assert (held["available"], held["activated"]) == (4, 2)
    detail = await api.get(f"/api/v1/licenses/products/{camera['id']}", headers=licensing.integrator,
                           params={"org_id": str(orgs.customer)})
    assert detail.status_code == 200 and detail.json()["available"] == 4
    [own] = await pages("/api/v1/licenses/products", licensing.distributor, org_id=str(orgs.distributor))
    assert own["available"] == 4
    # An archived child still shows what it holds.
    archived = await licensing.add_org("integrator", orgs.distributor, status="archived")
    assert await pages("/api/v1/licenses/products", licensing.distributor, org_id=str(archived)) == []

    # A grandchild, a parent, a stranger's org, an unknown id: 404, never their licenses.
    stranger = await licensing.add_org("integrator", await licensing.add_org("distributor", orgs.vendor))
    for caller, org_id in ((licensing.distributor, orgs.customer), (licensing.customer, orgs.integrator),
                           (licensing.distributor, stranger), (licensing.distributor, uuid.uuid4())):
        for path in ("/api/v1/licenses/products", f"/api/v1/licenses/products/{camera['id']}"):
            answer = await api.get(path, headers=caller, params={"org_id": str(org_id)})
            assert answer.status_code == 404, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert (await api.get("/api/v1/licenses/products", headers=licensing.distributor,
                          params={"org_id": "not-a-uuid"})).status_code == 422
    await licensing.conserved()
