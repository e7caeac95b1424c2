"""Offline license files: checked out for an activated device, verified without the server by
`python -m devices.verify` against the published keys; a tampered file, a wrong key, an expired
file and another device's file are refused; keys rotate without breaking files already out."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from devices.domain.license_files import SigningKey, new_seed, public_keys_from_jwks, sign, verify
from devices.main import create_app
from devices.settings import DevicesSettings
from devices.verify import main as verify_main


async def checked_out(customer, device, api, **body):
    license = await (await customer()).activates(quantity=2)
    assert (await device.activate(license, "fp-offline")).status_code == 201
    answer = await api.post("/api/v1/device/checkout", json={"key": license.key, "fingerprint": "fp-offline", **body})
    assert answer.status_code == 200, answer.text
    return license, answer.json()


async def write_jwks(api, tmp_path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text((await api.get("/api/v1/device/signing-keys")).text)
    return str(path)


def run_verifier(tmp_path, token: str, jwks: str, *extra: str) -> int:
    path = tmp_path / f"{uuid.uuid4().hex}.lic"
    path.write_text(token)
    return verify_main([str(path), "--jwks", jwks, *extra])


async def test_a_checked_out_file_verifies_offline(customer, device, api, tmp_path, capsys):
    license, file = await checked_out(customer, device, api, ttl=7200)
    jwks = await write_jwks(api, tmp_path)
    assert run_verifier(tmp_path, file["license_file"], jwks, "--fingerprint", "fp-offline") == 0
    claims = json.loads(capsys.readouterr().out)
    assert claims["license"]["id"] == str(license.id) and claims["device"]["fingerprint"] == "fp-offline"
    assert claims["license"]["rules"]["max_devices"] == 2
    assert claims["exp"] - claims["iat"] == 7200
    header = json.loads(base64.urlsafe_b64decode(file["license_file"].split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "kid": file["kid"], "typ": "license+jwt"}


async def test_a_tampered_file_is_refused(customer, device, api, tmp_path, capsys):
    _, file = await checked_out(customer, device, api)
    header, payload, signature = file["license_file"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["license"]["rules"]["max_devices"] = 1000
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert run_verifier(tmp_path, f"{header}.{forged}.{signature}", await write_jwks(api, tmp_path)) == 1
    assert "signature" in capsys.readouterr().err


async def test_a_file_signed_with_another_key_is_refused(customer, device, api, tmp_path, capsys):
    _, file = await checked_out(customer, device, api)
    claims = verify(file["license_file"], public_keys_from_jwks((await api.get("/api/v1/device/signing-keys")).json()))
    stranger = SigningKey.from_seed(new_seed())
    # Signed by a stranger under the genuine key's id: the signature does not check out.
    impostor = SigningKey(file["kid"], stranger.private_key)
    forged = sign(claims, impostor, datetime.now(UTC), datetime.now(UTC) + timedelta(days=1))
    assert run_verifier(tmp_path, forged, await write_jwks(api, tmp_path)) == 1
    # Under its own id, the key is simply unknown.
    unknown = sign(claims, stranger, datetime.now(UTC), datetime.now(UTC) + timedelta(days=1))
    assert run_verifier(tmp_path, unknown, await write_jwks(api, tmp_path)) == 1
    assert "unknown key" in capsys.readouterr().err


async def test_an_expired_file_is_refused(customer, device, api, tmp_path, capsys):
    _, file = await checked_out(customer, device, api, ttl=3600)
    keys = public_keys_from_jwks((await api.get("/api/v1/device/signing-keys")).json())
    assert verify(file["license_file"], keys, now=datetime.now(UTC) + timedelta(minutes=59))
    later = datetime.now(UTC) + timedelta(hours=2)
    try:
        verify(file["license_file"], keys, now=later)
    except Exception as error:
        assert "expired" in str(error)
    else:
        raise AssertionError("an expired file verified")
    settings = DevicesSettings()
    past = datetime.now(UTC) - timedelta(days=2)
    stale = sign({"license": {}, "device": {"fingerprint": "fp-offline"}}, settings.signing_keys[0], past,
                 past + timedelta(days=1))
    assert run_verifier(tmp_path, stale, await write_jwks(api, tmp_path)) == 1
    assert "expired" in capsys.readouterr().err


async def test_another_devices_file_is_refused(customer, device, api, tmp_path, capsys):
    _, file = await checked_out(customer, device, api)
    assert run_verifier(tmp_path, file["license_file"], await write_jwks(api, tmp_path),
                        "--fingerprint", "someone else's machine") == 1
    assert "another device" in capsys.readouterr().err


async def test_checkout_needs_an_active_device_and_offline_use_allowed(customer, device, api):
    license = await (await customer()).activates(offline_allowed=False)
    assert (await device.activate(license, "fp")).status_code == 201
    refused = await api.post("/api/v1/device/checkout", json={"key": license.key, "fingerprint": "fp"})
    assert (refused.status_code, refused.json()["code"]) == (403, "OFFLINE_NOT_ALLOWED")
    elsewhere = await api.post("/api/v1/device/checkout", json={"key": license.key, "fingerprint": "other"})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "DEVICE_NOT_ACTIVATED")


async def test_a_file_does_not_outlive_the_grace_period(customer, device, api):
    acme = await customer()
    today = datetime.now(UTC).date()
    license = await acme.activates(expires_on=today, grace_period_days=1)
    assert (await device.activate(license, "fp")).status_code == 201
    file = (await api.post("/api/v1/device/checkout", json={"key": license.key, "fingerprint": "fp"})).json()
    assert datetime.fromisoformat(file["expires_at"]) == datetime.combine(
        today + timedelta(days=2), datetime.min.time(), tzinfo=UTC)


async def test_files_signed_before_a_rotation_still_verify(own_infrastructure, identity_keys_url):
    old, new = new_seed(), new_seed()
    before = create_app(own_infrastructure.settings(DevicesSettings, identity_url=identity_keys_url,
                                                    license_signing_keys=old))
    after = create_app(own_infrastructure.settings(DevicesSettings, identity_url=identity_keys_url,
                                                   license_signing_keys=f"{new},{old}"))
    claims = {"license": {"id": "l"}, "device": {"fingerprint": "f"}}
    now = datetime.now(UTC)
    token = sign(claims, before.state.settings.signing_keys[0], now, now + timedelta(days=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=after), base_url="http://devices") as client:
        published = (await client.get("/api/v1/device/signing-keys")).json()
    assert [k["kid"] for k in published["keys"]] == [k.kid for k in after.state.settings.signing_keys]
    assert verify(token, public_keys_from_jwks(published), fingerprint="f")["license"] == {"id": "l"}
