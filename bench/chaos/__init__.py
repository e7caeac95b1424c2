"""Seeded chaos runs: the whole system under a mixed load while services, the broker and the
database connections fail; then a checker says whether every promise held (see __main__.py)."""
