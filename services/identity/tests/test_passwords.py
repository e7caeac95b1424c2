"""Passwords are stored as argon2id hashes, never as themselves."""

from identity.domain.passwords import hash_password, verify_password


def test_a_password_is_stored_as_a_salted_argon2id_hash():
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert "correct horse" not in first
    assert first != second  # salted


def test_only_the_right_password_verifies():
    stored = hash_password("correct horse battery")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterz", stored)
    assert not verify_password("anything", "not a hash")
