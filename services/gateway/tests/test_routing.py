"""The routing table and header rules, without any network."""

import pytest

from gateway.domain.headers import end_to_end, relative_location
from gateway.domain.routing import is_public, upstream_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/auth/login", "identity"),
        ("/api/v1/me", "identity"),
        ("/api/v1/members/42", "identity"),
        ("/api/v1/invites/7/resend", "identity"),
        ("/.well-known/jwks.json", "identity"),
        ("/api/v1/distributors", "orgs"),
        ("/api/v1/integrators/9/archive", "orgs"),
        ("/api/v1/customers", "orgs"),
        ("/api/v1/products", "entitlements"),
        ("/api/v1/entitlements/ENT-0001", "entitlements"),
        ("/api/v1/licenses/products", "entitlements"),
        ("/api/v1/activations/export.csv", "entitlements"),
        ("/api/v1/transfers/5", "transfers"),
        ("/api/v1/transactions/export.csv", "transfers"),
        ("/api/v1/audit-events", "audit"),
    ],
)
def test_each_resource_goes_to_the_service_that_owns_it(path, service):
    assert upstream_for(path) == service


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/unknown",
        "/api/v1/",
        "/api/v1",
        "/api/v2/members",
        "/members",
        "/api/v1/membersx",
        "/api/v1//members",
        "/api/v1/auth/login/../../members",
        "/api/v1/members/./1",
        "/.well-known/jwks.json/extra",
    ],
)
def test_a_path_no_service_owns_has_no_upstream(path):
    assert upstream_for(path) is None


def test_only_signing_in_accepting_an_invite_and_the_signing_keys_are_public():
    assert is_public("POST", "/api/v1/auth/login")
    assert is_public("post", "/api/v1/auth/refresh")
    assert is_public("POST", "/api/v1/invites/accept")
    assert is_public("GET", "/.well-known/jwks.json")
    assert not is_public("GET", "/api/v1/auth/login")
    assert not is_public("POST", "/api/v1/auth/login/")
    assert not is_public("POST", "/api/v1/invites")
    assert not is_public("GET", "/api/v1/me")


def test_hop_by_hop_headers_and_those_connection_names_stop_at_the_proxy():
    headers = [
        (b"Connection", b"keep-alive, X-Hop"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"X-Hop", b"1"),
        (b"Host", b"gateway"),
        (b"Authorization", b"Bearer t"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
    ]
    assert end_to_end(headers, also_drop=[b"host"]) == [
        (b"authorization", b"Bearer t"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]


def test_a_redirect_to_an_upstream_address_becomes_a_path():
    base = "http://10.0.0.3:8003/"
    headers = [(b"location", b"http://10.0.0.3:8003/api/v1/products/?limit=2"), (b"x-other", b"http://10.0.0.3:8003")]
    assert relative_location(headers, base) == [
        (b"location", b"/api/v1/products/?limit=2"),
        (b"x-other", b"http://10.0.0.3:8003"),
    ]
    assert relative_location([(b"location", b"http://10.0.0.3:80031/x")], base) == [
        (b"location", b"http://10.0.0.3:80031/x")
    ]
    assert relative_location([(b"location", b"https://example.com/x")], base) == [
        (b"location", b"https://example.com/x")
    ]


def test_the_device_api_alone_takes_no_member_token_and_devices_owns_its_resources():
    for path in ("/api/v1/device/activate", "/api/v1/device/validate", "/api/v1/device/signing-keys"):
        assert is_public("POST", path) and upstream_for(path) == "devices"
    for path in ("/api/v1/devices", "/api/v1/devices/1/reset", "/api/v1/license-keys", "/api/v1/license-users/1"):
        assert not is_public("POST", path) and upstream_for(path) == "devices"
    assert not is_public("POST", "/api/v1/device")
    assert not is_public("GET", "/api/v1/devicex/validate")
    assert upstream_for("/api/v1/device/../members") is None  # never public by way of a dot segment
