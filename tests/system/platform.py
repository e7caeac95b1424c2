"""The whole platform in this test process: identity, orgs, entitlements, transfers and audit (and
notify, when asked) served on free ports with their workers, on the test's databases and vhost,
behind the real gateway.
People sign in, are invited and accept through the public API, as users would."""

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import sqlalchemy as sa

from audit.main import create_app as create_audit
from audit.settings import AuditSettings
from devices.main import create_app as create_devices
from devices.settings import DevicesSettings
from billing.main import create_app as create_billing
from billing.settings import BillingSettings
from entitlements.main import create_app as create_entitlements
from entitlements.settings import EntitlementsSettings
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from identity.settings import IdentitySettings
from notify.main import create_app as create_notify
from notify.settings import NotifySettings
from orgs.main import create_app as create_orgs
from orgs.settings import OrgsSettings
from shared.events.secrets import EventSecrets
from shared.testing import eventually, serving
from transfers.main import create_app as create_transfers
from transfers.settings import TransfersSettings

ADMIN_EMAIL = "vendor-admin@example.com"
PASSWORD = "correct horse battery staple"


class Platform:
    def __init__(self, gateway_url: str, apps: dict):
        self.apps = apps
        self.http = httpx.AsyncClient(base_url=gateway_url, timeout=30)

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
        async def login():
            answer = await self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
            return answer.json()["access_token"] if answer.status_code == 200 else None

        token = await eventually(login)
        return httpx.AsyncClient(base_url=self.http.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    async def invite_token(self, email: str) -> str:
        """The accept-link token of the last invite to `email` (what the email would carry): the
        outbox event holds it sealed; the shared key opens it, as notify does for the mail."""
        identity = self.apps["identity"].state

        async def token():
            async with identity.engine.connect() as conn:
                return await conn.scalar(sa.text(
                    "SELECT body->'payload'->>'token' FROM outbox WHERE routing_key = 'identity.invite.created'"
                    " AND body->'payload'->>'email' = :email ORDER BY id DESC LIMIT 1"), {"email": email})

        return EventSecrets.from_settings(identity.settings).open(await eventually(token))

    async def accept_invite(self, email: str) -> httpx.AsyncClient:
        token = await self.invite_token(email)
        answer = await self.http.post("/api/v1/invites/accept", json={
            "token": token, "first_name": email.split("@")[0], "last_name": "Tester", "password": PASSWORD})
        assert answer.status_code in (200, 201), answer.text
        return await self.sign_in(email)


async def eventually_ok(call, *ok: int):
    """Retries a request until it answers with one of `ok` (a read model may still be catching up)."""
    wanted = ok or (200, 201, 202)

    async def attempt():
        answer = await call()
        return answer if answer.status_code in wanted else None

    return await eventually(attempt, timeout=20)


@contextlib.asynccontextmanager
async def running_platform(infrastructure, *, smtp_port: int | None = None, gateway_settings: dict | None = None,
                           service_settings: dict | None = None) -> AsyncIterator[Platform]:
    """With `smtp_port`, notify runs too and sends to 127.0.0.1:`smtp_port`; `gateway_settings`
    override the gateway's settings (e.g. its rate limits), `service_settings` every other's."""
    service_settings = service_settings or {}
    async with contextlib.AsyncExitStack() as stack:
        identity = create_identity(infrastructure.settings(
            IdentitySettings, admin_email=ADMIN_EMAIL, admin_password=PASSWORD, **service_settings))
        identity_url = await stack.enter_async_context(serving(identity, lifespan="on"))
        apps, urls = {"identity": identity}, {"identity": identity_url}
        factories = {"orgs": (create_orgs, OrgsSettings), "entitlements": (create_entitlements, EntitlementsSettings),
                     "transfers": (create_transfers, TransfersSettings), "audit": (create_audit, AuditSettings),
                     "devices": (create_devices, DevicesSettings), "billing": (create_billing, BillingSettings)}
        if smtp_port is not None:
            factories["notify"] = (create_notify, NotifySettings)
        mail = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port}
        for name, (factory, settings_class) in factories.items():
            apps[name] = factory(infrastructure.settings(settings_class, identity_url=identity_url, **service_settings,
                                                         **(mail if name == "notify" else {})))
            urls[name] = await stack.enter_async_context(serving(apps[name], lifespan="on"))
        gateway = create_gateway(infrastructure.settings(
            GatewaySettings, identity_url=identity_url, orgs_url=urls["orgs"], entitlements_url=urls["entitlements"],
            transfers_url=urls["transfers"], audit_url=urls["audit"],
            notify_url=urls.get("notify", "http://127.0.0.1:1"), devices_url=urls["devices"], billing_url=urls["billing"],
            **(gateway_settings or {})))
        gateway_url = await stack.enter_async_context(serving(gateway, lifespan="on"))
        platform = Platform(gateway_url, apps)
        stack.push_async_callback(platform.http.aclose)
        yield platform


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"
