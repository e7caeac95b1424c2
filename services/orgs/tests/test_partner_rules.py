"""The pure representative and company-field rules, without a database."""

import pytest

from orgs.domain.partners import InvalidPartner, RepresentativeDraft, check_country, default_representative
from shared.validation import InvalidEmail, check_email


def reps(*emails: str, default: int | None = None) -> list[RepresentativeDraft]:
    return [RepresentativeDraft(email, i == default) for i, email in enumerate(emails)]


def test_the_default_is_the_marked_one_else_the_first():
    assert default_representative(reps("a@x.io", "b@x.io")) == 0
    assert default_representative(reps("a@x.io", "b@x.io", default=1)) == 1


@pytest.mark.parametrize(
    "drafts",
    [reps(), reps(*(f"{i}@x.io" for i in range(6))), reps("a@x.io", "A@X.IO"),
     [RepresentativeDraft("a@x.io", True), RepresentativeDraft("b@x.io", True)]],
)
def test_broken_rules_are_refused(drafts):
    with pytest.raises(InvalidPartner):
        default_representative(drafts)


@pytest.mark.parametrize("email", ["plain", "a@b", "a@@b.io", "a b@c.io", ".a@b.io", "a@-b.io", "a@b.c"])
def test_invalid_emails(email):
    with pytest.raises(InvalidEmail):
        check_email(email)


def test_valid_values_pass_normalized():
    assert check_email(" first.last+tag@sub.example.com ") == "first.last+tag@sub.example.com"
    assert check_country("de") == "DE"
