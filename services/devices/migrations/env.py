from devices.db import metadata
from devices.settings import DevicesSettings
from shared.migrations import run_migrations

run_migrations(metadata, DevicesSettings())
