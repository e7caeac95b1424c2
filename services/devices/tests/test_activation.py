"""Activating devices on a license: the whole chain of the issue (10 devices, the 11th refused,
a reset frees a slot within the reset budget, a license user's cap), and the limits under
concurrent requests."""

import asyncio
import uuid

import sqlalchemy as sa


async def test_the_whole_chain(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=10, device_resets_per_30_days=1)
    for n in range(10):
        answer = await device.activate(license, f"machine-{n}", name=f"Workstation {n}")
        assert answer.status_code == 201, answer.text
    eleventh = await device.activate(license, "machine-10")
    assert eleventh.status_code == 409
    assert eleventh.json()["code"] == "TOO_MANY_DEVICES"

    listed = (await api.get("/api/v1/devices", params={"license_id": str(license.id), "status": "active"},
                            headers=acme.admin)).json()["items"]
    assert len(listed) == 10
    reset = await api.post(f"/api/v1/devices/{listed[0]['id']}/reset", headers=acme.admin)
    assert reset.status_code == 204, reset.text
    assert (await device.activate(license, "machine-10")).status_code == 201
    freed = listed[0]["name"].replace("Workstation ", "machine-")
    assert (await device.validate(license.key, freed))["code"] == "DEVICE_NOT_ACTIVATED"

    # The budget is one reset per 30 days: the second is refused and nothing changes.
    second = await api.post(f"/api/v1/devices/{listed[1]['id']}/reset", headers=acme.admin)
    assert second.status_code == 409 and "1 device resets per 30 days" in second.json()["detail"]
    detail = (await api.get(f"/api/v1/license-keys/{license.id}", headers=acme.admin)).json()
    assert detail["devices_in_use"] == 10 and detail["resets_left"] == 0
    assert (await api.get(f"/api/v1/devices/{listed[1]['id']}", headers=acme.admin)).json()["status"] == "active"


async def test_a_reset_device_is_kept_as_history_and_no_longer_validates(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=2)
    activated = (await device.activate(license, "old-laptop")).json()
    assert (await api.post(f"/api/v1/devices/{activated['id']}/reset", headers=acme.admin)).status_code == 204
    assert (await device.validate(license.key, "old-laptop"))["code"] == "DEVICE_NOT_ACTIVATED"
    kept = (await api.get(f"/api/v1/devices/{activated['id']}", headers=acme.admin)).json()
    assert kept["status"] == "reset" and kept["released_at"] is not None
    again = await api.post(f"/api/v1/devices/{activated['id']}/reset", headers=acme.admin)
    assert again.status_code == 409


async def test_a_license_user_with_a_cap_of_2_cannot_activate_a_third_device(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=10)
    user = await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "jo@acme.example", "activation_cap": 2})
    assert user.status_code == 201, user.text
    credentials = {"user_email": "jo@acme.example", "user_password": user.json()["initial_password"]}
    for n in range(2):
        assert (await device.activate(license, f"jo-{n}", **credentials)).status_code == 201
    third = await device.activate(license, "jo-2", **credentials)
    assert third.status_code == 409 and third.json()["code"] == "USER_DEVICE_LIMIT"
    listed = (await api.get("/api/v1/license-users", params={"license_id": str(license.id)},
                            headers=acme.viewer)).json()["items"]
    assert [(u["email"], u["devices_in_use"], u["activation_cap"]) for u in listed] == [("jo@acme.example", 2, 2)]


async def test_the_same_fingerprint_again_is_the_same_device(customer, device):
    license = await (await customer()).activates(quantity=1)
    first = await device.activate(license, "fp")
    again = await device.activate(license, "fp", name="renamed")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


async def test_50_concurrent_activations_against_10_give_exactly_10(customer, device, app):
    license = await (await customer()).activates(quantity=10)
    answers = await asyncio.gather(*(device.activate(license, f"rush-{n}") for n in range(50)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 10 and statuses.count(409) == 40, statuses
    async with app.state.engine.connect() as connection:
        active = await connection.scalar(sa.text(
            "SELECT count(*) FROM devices WHERE license_id = :id AND status = 'active'"), {"id": license.id})
    assert active == 10


async def test_concurrent_activations_of_one_user_stay_within_its_cap(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=10)
    user = (await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "rush@acme.example", "activation_cap": 3})).json()
    credentials = {"user_email": "rush@acme.example", "user_password": user["initial_password"]}
    answers = await asyncio.gather(*(device.activate(license, f"u-{n}", **credentials) for n in range(8)))
    assert sorted(a.status_code for a in answers).count(201) == 3


async def test_a_license_with_users_takes_their_credentials(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=5)
    await api.post("/api/v1/license-users", headers=acme.admin, json={
        "license_id": str(license.id), "email": "kim@acme.example"})
    anonymous = await device.activate(license, "anon")
    wrong = await device.activate(license, "anon", user_email="kim@acme.example", user_password="not it")
    unknown_key = await device.activate(license.__class__(**{**license.__dict__, "key": "AAAA-" * 7 + "AAAA"}),
                                        "anon")
    assert anonymous.status_code == wrong.status_code == unknown_key.status_code == 404
    assert anonymous.json() == wrong.json() == unknown_key.json()


async def test_deactivating_from_the_device_frees_the_slot_without_a_reset(customer, device, api):
    acme = await customer()
    license = await acme.activates(quantity=1, device_resets_per_30_days=0)
    assert (await device.activate(license, "a")).status_code == 201
    released = await api.post("/api/v1/device/deactivate", json={"key": license.key, "fingerprint": "a"})
    assert released.status_code == 204
    assert (await device.activate(license, "b")).status_code == 201
    again = await api.post("/api/v1/device/deactivate", json={"key": license.key, "fingerprint": "a"})
    assert again.status_code == 404 and again.json()["code"] == "DEVICE_NOT_ACTIVATED"


async def test_an_unknown_license_is_not_found_for_every_call(api):
    body = {"key": str(uuid.uuid4()), "fingerprint": "x"}
    for path in ("activate", "deactivate", "checkout"):
        answer = await api.post(f"/api/v1/device/{path}", json=body)
        assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND", (path, answer.text)
