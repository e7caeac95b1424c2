from audit.db import metadata
from audit.settings import AuditSettings
from shared.migrations import run_migrations

run_migrations(metadata, AuditSettings())
