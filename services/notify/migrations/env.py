from notify.db import metadata
from notify.settings import NotifySettings
from shared.migrations import run_migrations

run_migrations(metadata, NotifySettings())
