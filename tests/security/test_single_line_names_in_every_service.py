"""Issue 20, items 10 and 12, beyond orgs and entitlements: the request bodies of identity, billing
and devices refuse control characters in names, and values of another JSON type ("2", true) in
quantities and flags, with the reason; the same bodies written plainly are taken."""

import uuid

import pytest
from pydantic import BaseModel, ValidationError

from billing.api.plans import PlanIn
from billing.api.subscriptions import SubscriptionIn
from devices.api.device import ActivateIn, CheckoutIn
from devices.api.license_users import LicenseUserIn
from identity.api.invites import AcceptRequest

ACCEPT = {"token": "t", "first_name": "Dana", "last_name": "Dist", "password": "a-long-passphrase"}
PLAN = {"name": "Monthly", "interval": "monthly", "unit_price": "9.90", "currency": "EUR"}
LICENCE = {"plan_id": str(uuid.uuid4()), "name": "Screens", "quantity": 5, "entitlement_id": "ENT-1",
           "product_id": str(uuid.uuid4())}
DEVICE = {"key": "K", "fingerprint": "F", "name": "Lobby PC"}
LICENSE_USER = {"license_id": str(uuid.uuid4()), "email": "user@example.com", "name": "Ola"}

CASES = [
    (AcceptRequest, ACCEPT, "first_name", "Dana\r\nBcc: victim@example.com"),
    (AcceptRequest, ACCEPT, "last_name", "Dist\u2028Line"),
    (PlanIn, PLAN, "name", "Monthly\nSecond line"),
    (PlanIn, PLAN, "enabled", "true"),
    (PlanIn, PLAN, "interval_months", "2"),
    (SubscriptionIn, LICENCE, "name", "Scre\x0bens"),
    (SubscriptionIn, LICENCE, "quantity", "5"),
    (SubscriptionIn, LICENCE, "quantity", True),
    (SubscriptionIn, LICENCE, "auto_renew", 1),
    (ActivateIn, DEVICE, "name", "Lobby\r\nPC"),
    (ActivateIn, DEVICE, "hostname", "ho\x85st"),
    (ActivateIn, DEVICE, "virtual_machine", "false"),
    (CheckoutIn, DEVICE | {"name": None}, "ttl", "86400"),
    (LicenseUserIn, LICENSE_USER, "name", "Ola\nNordmann"),
    (LicenseUserIn, LICENSE_USER, "activation_cap", "2"),
]


@pytest.mark.parametrize(("model", "plain", "field", "value"), CASES,
                         ids=[f"{model.__name__}.{field}={value!r}" for model, _, field, value in CASES])
def test_a_control_character_or_another_type_is_refused_naming_the_field(model: type[BaseModel], plain, field, value):
    body = {key: item for key, item in plain.items() if key in model.model_fields}
    model.model_validate(body)  # the plain body is taken
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**body, field: value})
    assert field in str(refused.value)
