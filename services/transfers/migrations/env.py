from transfers.db import metadata
from transfers.settings import TransfersSettings
from shared.migrations import run_migrations

run_migrations(metadata, TransfersSettings())
