"""Sealed secret fields: the fields a contract marks in `secret_fields` (an invite's token) are
encrypted by the producer before the event enters its outbox, so the outbox table, the broker and
the consumers' stores hold ciphertext only; the one consumer that must use a value opens it when
it uses it (notify, as it renders the invite mail).

The unit of work seals every recorded event (shared.db.UnitOfWork), so every producer does it
without code of its own. A sealed value is `sealed:` followed by a Fernet token (AES-128-CBC and
HMAC-SHA256, with its time of sealing), so it stays a string and the contracts keep their types.

The key is the EVENT_SECRETS_KEY setting: one or more Fernet keys, comma separated. The first seals;
each of them opens (MultiFernet). To rotate: put a new key first, keep the old one after it until no
value sealed with it still needs opening (a mail waits at most its retries, about six hours; the
outbox keeps sealed values five minutes; a dead-lettered event waits for an operator), then drop
it. Every service that produces or opens secrets needs the same list.
"""

from collections.abc import Mapping
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.events.catalog import CONTRACTS
from shared.events.envelope import Envelope

SEALED_PREFIX = "sealed:"
# The key of the session factory's `info` under which a service's EventSecrets travel to its
# units of work (shared.service puts them there; shared.db.UnitOfWork reads them).
SESSION_INFO_KEY = "event_secrets"


class SecretUnreadable(ValueError):
    """A secret field that this service's keys cannot open: not sealed, sealed with a key that is not
    in EVENT_SECRETS_KEY, or altered."""


class EventSecrets:
    def __init__(self, keys: str):
        """`keys`: EVENT_SECRETS_KEY's value (Fernet keys, comma separated, the sealing one first)."""
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ValueError("EVENT_SECRETS_KEY is empty: it needs at least one Fernet key")
        try:
            self._fernet = MultiFernet([Fernet(part) for part in parts])
        except ValueError as error:  # the message names no key material
            raise ValueError(
                "EVENT_SECRETS_KEY must hold Fernet keys (32 url-safe base64-encoded bytes each, comma separated;"
                " make one with `python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'`)"
            ) from error

    @classmethod
    def from_settings(cls, settings) -> "EventSecrets":
        return _cached(settings.event_secrets_key)

    def seal(self, value: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, value: object) -> str:
        """The plain value of a sealed one; SecretUnreadable when it is not sealed or no key opens it."""
        token = _sealed_token(value)
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a sealed secret that EVENT_SECRETS_KEY cannot open (sealed with a key not in the list, or altered)"
            ) from None

    def check(self, value: object) -> None:
        """Raises SecretUnreadable unless `open` would succeed, without decrypting (only the
        signature is verified): for a consumer that stores a sealed value to open it later."""
        token = _sealed_token(value)
        try:
            self._fernet.extract_timestamp(token)
        except InvalidToken:
            raise SecretUnreadable(
                "a sealed secret that EVENT_SECRETS_KEY cannot open (sealed with a key not in the list, or altered)"
            ) from None

    def seal_payload(self, event_type: str, payload: Mapping) -> dict:
        """The payload with its contract's secret fields sealed (other events: unchanged)."""
        contract = CONTRACTS.get(event_type)
        fields = contract.secret_fields if contract is not None else ()
        return {
            name: self.seal(value) if name in fields and isinstance(value, str) and not is_sealed(value) else value
            for name, value in payload.items()
        }

    def seal_envelope(self, envelope: Envelope) -> Envelope:
        if not has_secret_fields(envelope.type):
            return envelope
        return envelope.model_copy(update={"payload": self.seal_payload(envelope.type, envelope.payload)})


def has_secret_fields(event_type: str) -> bool:
    contract = CONTRACTS.get(event_type)
    return contract is not None and bool(contract.secret_fields)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _sealed_token(value: object) -> bytes:
    if not is_sealed(value):
        raise SecretUnreadable("a secret field that is not sealed (its producer did not seal it)")
    return value.removeprefix(SEALED_PREFIX).encode("ascii", errors="replace")


@lru_cache(maxsize=8)
def _cached(keys: str) -> EventSecrets:
    return EventSecrets(keys)


def session_info(settings) -> dict:
    """What a service's session factory carries (`async_sessionmaker(..., info=session_info(settings))`)."""
    return {SESSION_INFO_KEY: EventSecrets.from_settings(settings)}
