"""The notify service's tables (its own database)."""

import sqlalchemy as sa

from shared.db import add_messaging_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
