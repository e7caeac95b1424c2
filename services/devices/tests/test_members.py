"""The member routes: tenant scoping (another customer's ids find nothing; the integrator and
the distributor see their customers' usage, never the key), roles, Idempotency-Key, license
users' lifecycle (assign, change, password, reset activations, remove) and their limits."""

import uuid

import sqlalchemy as sa


async def test_another_customers_ids_find_nothing_and_change_nothing(customer, device, api):
    acme, rival = await customer(), await customer()
    license = await acme.activates(quantity=3)
    activated = (await device.activate(license, "fp")).json()
    user = (await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "a@acme.example"})).json()
    for method, path in (("GET", f"/api/v1/license-keys/{license.id}"),
                         ("POST", f"/api/v1/license-keys/{license.id}/suspend"),
                         ("GET", f"/api/v1/devices/{activated['id']}"),
                         ("POST", f"/api/v1/devices/{activated['id']}/reset"),
                         ("GET", f"/api/v1/license-users/{user['id']}"),
                         ("PATCH", f"/api/v1/license-users/{user['id']}"),
                         ("DELETE", f"/api/v1/license-users/{user['id']}"),
                         ("POST", f"/api/v1/license-users/{user['id']}/reset"),
                         ("POST", f"/api/v1/license-users/{user['id']}/password")):
        answer = await api.request(method, path, headers=rival.admin, json={"name": "x"} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    created = await api.post("/api/v1/license-users", headers=rival.admin, json={
        "license_id": str(license.id), "email": "intruder@rival.example"})
    assert created.status_code == 404
    for path in ("/api/v1/license-keys", "/api/v1/devices", "/api/v1/license-users"):
        assert (await api.get(path, headers=rival.admin)).json()["items"] == []
    assert (await device.validate(license.key, "fp"))["code"] == "VALID"
    users = (await api.get("/api/v1/license-users", headers=acme.admin)).json()["items"]
    assert [(u["email"], u["name"]) for u in users] == [("a@acme.example", None)]


async def test_the_integrator_and_the_distributor_see_usage_but_never_the_key(customer, device, api, signed_in):
    acme = await customer()
    license = await acme.activates(quantity=5)
    await device.activate(license, "fp-1")
    await device.activate(license, "fp-2")
    for org_id, tier in ((acme.integrator_id, "integrator"), (acme.distributor_id, "distributor")):
        headers = signed_in(org_id, role="viewer", tier=tier)
        [item] = (await api.get("/api/v1/license-keys", headers=headers)).json()["items"]
        assert (item["id"], item["devices_in_use"], item["max_devices"]) == (str(license.id), 2, 5)
        detail = (await api.get(f"/api/v1/license-keys/{license.id}", headers=headers)).json()
        assert detail["key"] is None and license.key not in str(detail)
        assert (await api.get("/api/v1/devices", headers=headers)).status_code == 403
    other_integrator = signed_in(uuid.uuid4(), tier="integrator")
    assert (await api.get("/api/v1/license-keys", headers=other_integrator)).json()["items"] == []


async def test_a_viewer_reads_but_changes_nothing(customer, device, api):
    acme = await customer()
    license = await acme.activates()
    activated = (await device.activate(license, "fp")).json()
    assert (await api.get(f"/api/v1/devices/{activated['id']}", headers=acme.viewer)).status_code == 200
    for method, path, body in (
            ("POST", f"/api/v1/devices/{activated['id']}/reset", None),
            ("POST", f"/api/v1/license-keys/{license.id}/suspend", None),
            ("POST", "/api/v1/license-users", {"license_id": str(license.id), "email": "v@acme.example"})):
        assert (await api.request(method, path, headers=acme.viewer, json=body)).status_code == 403
    assert (await device.validate(license.key, "fp"))["code"] == "VALID"


async def test_license_users_never_exceed_what_the_license_allows(customer, api):
    acme = await customer()
    license = await acme.activates(quantity=4, max_license_users=2)
    for name in ("a", "b"):
        answer = await api.post("/api/v1/license-users", headers=acme.admin, json={
            "license_id": str(license.id), "email": f"{name}@acme.example"})
        assert answer.status_code == 201
    third = await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "c@acme.example"})
    assert third.status_code == 409 and "2 license users" in third.json()["detail"]
    taken = await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "A@acme.example"})
    assert taken.status_code == 409
    over_cap = await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "d@acme.example", "activation_cap": 5})
    assert over_cap.status_code in (409, 422)


async def test_an_idempotency_key_assigns_once_and_answers_the_same_password(customer, api, app):
    acme = await customer()
    license = await acme.activates()
    body = {"license_id": str(license.id), "email": "once@acme.example"}
    headers = {**acme.admin, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.post("/api/v1/license-users", headers=headers, json=body)
    again = await api.post("/api/v1/license-users", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    async with app.state.engine.connect() as connection:
        stored = await connection.scalar(sa.text("SELECT body::text FROM idempotency_keys WHERE key = :key"),
                                         {"key": headers["Idempotency-Key"]})
    assert first.json()["initial_password"] not in stored  # kept sealed, never in clear
    listed = (await api.get("/api/v1/license-users", params={"license_id": str(license.id)},
                            headers=acme.admin)).json()["items"]
    assert len(listed) == 1


async def test_a_license_users_lifecycle(customer, device, api, app):
    acme = await customer()
    license = await acme.activates(quantity=5, device_resets_per_30_days=2)
    user = (await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "pat@acme.example", "name": "Pat", "activation_cap": 3})).json()

    changed = await api.patch(f"/api/v1/license-users/{user['id']}", headers=acme.admin,
                              json={"email": "pat.new@acme.example", "activation_cap": 2})
    assert changed.status_code == 200 and (changed.json()["email"], changed.json()["activation_cap"]) == (
        "pat.new@acme.example", 2)
    old = await device.activate(license, "p-0", user_email="pat.new@acme.example",
                                user_password=user["initial_password"])
    assert old.status_code == 201

    password = (await api.post(f"/api/v1/license-users/{user['id']}/password", headers=acme.admin)).json()["password"]
    assert password != user["initial_password"]
    stale = await device.activate(license, "p-1", user_email="pat.new@acme.example",
                                  user_password=user["initial_password"])
    assert stale.status_code == 404
    assert (await device.activate(license, "p-1", user_email="pat.new@acme.example",
                                  user_password=password)).status_code == 201

    reset = await api.post(f"/api/v1/license-users/{user['id']}/reset", headers=acme.admin)
    assert reset.json() == {"devices_reset": 2}
    assert (await device.validate(license.key, "p-0"))["code"] == "DEVICE_NOT_ACTIVATED"
    credentials = {"user_email": "pat.new@acme.example", "user_password": password}
    assert (await device.activate(license, "p-2", **credentials)).status_code == 201
    over_budget = await api.post(f"/api/v1/license-users/{user['id']}/reset", headers=acme.admin)
    assert over_budget.status_code == 409  # two resets in 30 days already
    assert (await device.validate(license.key, "p-2"))["code"] == "VALID"

    assert (await api.delete(f"/api/v1/license-users/{user['id']}", headers=acme.admin)).status_code == 204
    assert (await device.validate(license.key, "p-2"))["code"] == "DEVICE_NOT_ACTIVATED"
    assert (await api.get(f"/api/v1/license-users/{user['id']}", headers=acme.admin)).status_code == 404
    history = (await api.get(f"/api/v1/license-keys/{license.id}", headers=acme.admin)).json()["activation_history"]
    assert sorted(entry["status"] for entry in history) == ["reset", "reset", "reset"]

    async with app.state.engine.connect() as connection:
        events = (await connection.execute(sa.text(
            "SELECT routing_key FROM outbox WHERE body->'payload'->>'license_id' = :id ORDER BY id"),
            {"id": str(license.id)})).scalars().all()
        sealed = await connection.scalar(sa.text(
            "SELECT body->'payload'->>'initial_password' FROM outbox WHERE routing_key = 'devices.license_user.assigned'"
            " AND body->'payload'->>'license_id' = :id"), {"id": str(license.id)})
    assert {"devices.license_user.assigned", "devices.license_user.changed", "devices.license_user.password_set",
            "devices.device.activated", "devices.device.reset", "devices.license_user.removed"} <= set(events)
    assert sealed.startswith("sealed:")


async def test_lists_page_with_a_cursor_and_filter(customer, api):
    acme = await customer()
    made = [await acme.activates(project=f"Line {n}") for n in range(3)]
    first = (await api.get("/api/v1/license-keys", params={"limit": 2}, headers=acme.viewer)).json()
    second = (await api.get("/api/v1/license-keys", params={"limit": 2, "cursor": first["next_cursor"]},
                            headers=acme.viewer)).json()
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert sorted(seen) == sorted(str(license.id) for license in made) and second["next_cursor"] is None
    found = (await api.get("/api/v1/license-keys", params={"search": "line 1"}, headers=acme.viewer)).json()
    assert [item["project_name"] for item in found["items"]] == ["Line 1"]
    expired = (await api.get("/api/v1/license-keys", params={"status": "expired"}, headers=acme.viewer)).json()
    assert expired["items"] == []
    bad = await api.get("/api/v1/license-keys", params={"status": "sleeping"}, headers=acme.viewer)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
