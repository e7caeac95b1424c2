"""The event catalogue: every contract once by routing key, and secrets kept out of generic stores."""

from shared.events.catalog import CONTRACTS, without_secrets


def test_routing_keys_follow_service_aggregate_past_tense_verb_and_are_unique():
    for key, contract in CONTRACTS.items():
        service, _aggregate, _verb = key.split(".")
        assert service in {"orgs", "identity", "entitlements", "transfers", "devices", "billing"}, key
        assert contract.routing_key == key


def test_an_invite_token_never_reaches_a_generic_store():
    payload = {"invite_id": "1", "email": "jane@example.com", "token": "secret-token"}
    for key in ("identity.invite.created", "identity.invite.resent"):
        assert without_secrets(key, payload) == {"invite_id": "1", "email": "jane@example.com"}
    assert without_secrets("orgs.organization.created", {"name": "Acme"}) == {"name": "Acme"}
    assert without_secrets("some.unknown.event", {"token": "kept"}) == {"token": "kept"}
    assert without_secrets("billing.invoice.issued", {"number": "INV-000001", "pdf_base64": "sealed:..."}) == {
        "number": "INV-000001"}
