"""The devices service: license keys, the devices activated on them and their license users,
and the API the licensed software calls (activate, validate, deactivate, signed offline files)."""

from fastapi import FastAPI

from devices.api import device, devices, license_keys, license_users
from devices.domain.rate_limit import WindowLimit
from devices.handlers import event_handlers
from devices.settings import DevicesSettings
from devices.validation import ValidationLog, write_validations_periodically
from shared.service import create_service_app


def create_app(settings: DevicesSettings | None = None) -> FastAPI:
    settings = settings or DevicesSettings()
    app = create_service_app(
        settings,
        routers=[device.router, license_keys.router, devices.router, license_users.router],
        event_handlers=event_handlers(settings),
        background_workers={"validation writer": write_validations_periodically},
    )
    app.state.validations = ValidationLog()
    app.state.limit_per_key = WindowLimit(settings.device_rate_per_key)
    app.state.limit_per_address = WindowLimit(settings.device_rate_per_address)
    return app
