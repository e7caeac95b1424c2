from identity.db import metadata
from identity.settings import IdentitySettings
from shared.migrations import run_migrations

run_migrations(metadata, IdentitySettings())
