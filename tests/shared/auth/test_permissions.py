"""The permission table as the product documents describe the roles."""

import pytest

from shared.auth.permissions import PERMISSIONS, Action, Role, Tier, is_allowed


def test_every_action_is_in_the_table():
    assert set(PERMISSIONS) == set(Action)


@pytest.mark.parametrize("action", list(Action))
def test_an_admin_may_do_everything_that_exists_for_its_tier(action):
    tiers, _ = PERMISSIONS[action]
    for tier in tiers:
        assert is_allowed(tier, Role.ADMIN, action)


def test_only_admins_and_project_managers_transfer_licenses():
    allowed = {role for role in Role if is_allowed(Tier.DISTRIBUTOR, role, Action.TRANSFER_LICENSES)}
    assert allowed == {Role.ADMIN, Role.PROJECT_MANAGER}


def test_viewers_see_licenses_and_transactions_but_export_and_audit_nothing():
    assert is_allowed(Tier.DISTRIBUTOR, Role.VIEWER, Action.VIEW_LICENSES)
    assert is_allowed(Tier.DISTRIBUTOR, Role.VIEWER, Action.VIEW_TRANSACTIONS)
    assert not is_allowed(Tier.DISTRIBUTOR, Role.VIEWER, Action.VIEW_AUDIT)
    assert not any(
        is_allowed(Tier.DISTRIBUTOR, Role.VIEWER, a)
        for a in (Action.EXPORT_AUDIT, Action.EXPORT_TRANSACTIONS, Action.EXPORT_ACTIVATIONS)
    )


def test_end_customers_have_only_admin_and_viewer_roles():
    for role in (Role.PROJECT_MANAGER, Role.TECHNICIAN, Role.SUPPORT, Role.AUDITOR):
        assert not any(is_allowed(Tier.CUSTOMER, role, action) for action in Action)


def test_only_end_customers_activate_and_only_the_vendor_issues():
    assert {t for t in Tier if is_allowed(t, Role.ADMIN, Action.ACTIVATE_LICENSES)} == {Tier.CUSTOMER}
    assert {t for t in Tier if is_allowed(t, Role.ADMIN, Action.ISSUE_ENTITLEMENTS)} == {Tier.VENDOR}


def test_the_end_customers_viewer_reads_the_audit_log_but_does_not_export_it():
    assert is_allowed(Tier.CUSTOMER, Role.VIEWER, Action.VIEW_AUDIT)
    assert not is_allowed(Tier.CUSTOMER, Role.VIEWER, Action.EXPORT_AUDIT)
    assert not is_allowed(Tier.INTEGRATOR, Role.VIEWER, Action.VIEW_AUDIT)
