from orgs.db import metadata
from orgs.settings import OrgsSettings
from shared.migrations import run_migrations

run_migrations(metadata, OrgsSettings())
