"""The development secrets are in this repository: outside development (LICENSING_ENV) a service
refuses to start with them, rather than sealing invite tokens with a key anyone can read."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from identity.settings import IdentitySettings
from shared.settings import DEVELOPMENT_EVENT_SECRETS_KEY, ServiceSettings


def test_development_runs_with_the_development_defaults():
    assert ServiceSettings().event_secrets_key == DEVELOPMENT_EVENT_SECRETS_KEY
    IdentitySettings()


@pytest.mark.parametrize("keys", [DEVELOPMENT_EVENT_SECRETS_KEY, f"{Fernet.generate_key().decode()},{DEVELOPMENT_EVENT_SECRETS_KEY}"])
def test_elsewhere_the_development_event_key_is_refused(keys):
    with pytest.raises(ValidationError, match="EVENT_SECRETS_KEY"):
        ServiceSettings(LICENSING_ENV="production", EVENT_SECRETS_KEY=keys)


def test_elsewhere_own_keys_are_taken():
    own = Fernet.generate_key().decode()
    assert ServiceSettings(LICENSING_ENV="production", EVENT_SECRETS_KEY=own).event_secrets_key == own


def test_elsewhere_the_development_admin_password_is_refused():
    own_key = Fernet.generate_key().decode()
    with pytest.raises(ValidationError, match="LICENSING_ADMIN_PASSWORD"):
        IdentitySettings(LICENSING_ENV="production", EVENT_SECRETS_KEY=own_key, AMQP_PASSWORD="our broker one")
    IdentitySettings(LICENSING_ENV="production", EVENT_SECRETS_KEY=own_key, AMQP_PASSWORD="our broker one",
                     LICENSING_ADMIN_PASSWORD="a long one of our own")
