"""The append-only event store (SQLAlchemy Core; SQLite by default, PostgreSQL by URL)."""
