"""The store fixtures of tests/store (a SQLite file, or a fresh PostgreSQL schema) for the
command-line tests."""

from tests.store.conftest import pg_schema_url, store_url

__all__ = ["pg_schema_url", "store_url"]
