"""Sealing events' secret fields (shared.events.secrets): what a contract marks secret is sealed,
nothing else is; the keys rotate; a key that cannot open a value says so; the development default
is the same wherever the system is started."""

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, MemberCreated
from shared.events.secrets import EventSecrets, SecretUnreadable, is_sealed
from shared.settings import DEVELOPMENT_EVENT_SECRETS_KEY, ServiceSettings

ROOT = Path(__file__).resolve().parents[3]


def an_invite(token: str = "plain-token") -> Envelope:
    return Envelope.wrap(InviteCreated(invite_id=uuid.uuid4(), org_id=uuid.uuid4(), email="a@x.com", role="viewer",
                                       token=token, expires_at=datetime.now(UTC)), producer="identity")


def test_only_the_secret_fields_are_sealed_and_the_key_opens_them():
    secrets = EventSecrets(Fernet.generate_key().decode())
    sealed = secrets.seal_envelope(an_invite())
    assert is_sealed(sealed.payload["token"]) and "plain-token" not in sealed.model_dump_json()
    assert sealed.payload["email"] == "a@x.com"
    assert secrets.open(sealed.payload["token"]) == "plain-token"
    assert secrets.seal_envelope(sealed) == sealed  # sealed once, never twice
    member = Envelope.wrap(MemberCreated(member_id=uuid.uuid4(), org_id=uuid.uuid4(), email="a@x.com", role="viewer"),
                           producer="identity")
    assert secrets.seal_envelope(member) is member


def test_a_rotated_list_opens_the_old_values_and_seals_with_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = EventSecrets(old).seal("t")
    rotated = EventSecrets(f"{new}, {old}")
    assert rotated.open(sealed_before) == "t"
    assert EventSecrets(new).open(rotated.seal("t")) == "t"


def test_a_value_the_keys_cannot_open_is_refused_with_a_reason():
    sealed = EventSecrets(Fernet.generate_key().decode()).seal("t")
    other = EventSecrets(Fernet.generate_key().decode())
    for value in (sealed, "t", None, sealed[:-4]):
        with pytest.raises(SecretUnreadable):
            other.open(value)
        with pytest.raises(SecretUnreadable):
            other.check(value)


def test_a_malformed_key_setting_is_refused_without_echoing_it():
    for keys in ("", " , ", "not-a-fernet-key"):
        with pytest.raises(ValueError, match="EVENT_SECRETS_KEY") as refused:
            EventSecrets(keys)
        assert "not-a-fernet-key" not in str(refused.value)


def test_the_development_key_is_the_same_for_the_services_compose_and_make_run(monkeypatch):
    monkeypatch.delenv("EVENT_SECRETS_KEY", raising=False)
    assert ServiceSettings().event_secrets_key == DEVELOPMENT_EVENT_SECRETS_KEY
    EventSecrets(DEVELOPMENT_EVENT_SECRETS_KEY)  # a valid key
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"EVENT_SECRETS_KEY: \$\{EVENT_SECRETS_KEY:-" + re.escape(DEVELOPMENT_EVENT_SECRETS_KEY) + r"\}",
                     compose)
    assert "DEVELOPMENT_EVENT_SECRETS_KEY" in (ROOT / "deploy" / "run" / "run.py").read_text()
