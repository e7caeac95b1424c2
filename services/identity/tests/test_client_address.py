"""Which address a sign-in counts against (pure): X-Forwarded-For only from a trusted proxy."""

import pytest
from pydantic import ValidationError

from identity.domain.client_address import client_address, parse_trusted_proxies
from identity.settings import IdentitySettings

TRUSTED = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8, ::1")


def test_the_first_forwarded_address_counts_when_the_peer_is_a_trusted_proxy():
    assert client_address("127.0.0.1", "203.0.113.7", TRUSTED) == "203.0.113.7"
    assert client_address("10.1.2.3", "203.0.113.7, 10.9.9.9", TRUSTED) == "203.0.113.7"
    assert client_address("::1", " 2001:db8::1 ", TRUSTED) == "2001:db8::1"


def test_anyone_else_is_counted_by_their_own_address_whatever_they_forward():
    assert client_address("198.51.100.4", "203.0.113.7", TRUSTED) == "198.51.100.4"
    assert client_address("198.51.100.4", None, TRUSTED) == "198.51.100.4"
    assert client_address("127.0.0.1", None, TRUSTED) == "127.0.0.1"
    assert client_address(None, "203.0.113.7", TRUSTED) == "unknown"


def test_a_forwarded_value_that_is_no_address_is_not_taken():
    assert client_address("127.0.0.1", "not-an-ip", TRUSTED) == "127.0.0.1"


def test_the_trusted_proxies_setting_is_checked_at_start():
    assert IdentitySettings().trusted_proxies == "127.0.0.1"
    with pytest.raises(ValidationError, match="'gateway' is not an IP address"):
        IdentitySettings(trusted_proxies="127.0.0.1, gateway")


def test_the_access_token_lifetime_is_short_and_bounded():
    assert IdentitySettings().access_token_ttl_seconds == 900
    with pytest.raises(ValidationError):
        IdentitySettings(access_token_ttl_seconds=7200)
    with pytest.raises(ValidationError):
        IdentitySettings(access_token_ttl_seconds=0)
