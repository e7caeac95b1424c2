from billing.db import metadata
from billing.settings import BillingSettings
from shared.migrations import run_migrations

run_migrations(metadata, BillingSettings())
