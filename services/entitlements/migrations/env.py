from entitlements.db import metadata
from entitlements.settings import EntitlementsSettings
from shared.migrations import run_migrations

run_migrations(metadata, EntitlementsSettings())
