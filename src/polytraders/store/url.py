"""Store URLs: which database an :class:`~polytraders.store.event_store.EventStore` opens.

Accepted forms (anything else is refused with :class:`~polytraders.store.errors.StoreUrlError`):

- a plain file path (``runs/desk.sqlite``) or ``sqlite:///relative/path`` /
  ``sqlite:////absolute/path``: a SQLite file (the default backend). In-memory SQLite is
  refused: the store is durable evidence. Whether the file can be opened is checked when the
  store opens it (:mod:`polytraders.store.sqlite_file`), not here.
- ``postgresql+psycopg://user:password@host:port/database`` (also ``postgresql://`` and
  ``postgres://``, which mean the same driver, psycopg 3). Query parameters pass through to
  libpq, e.g. ``?options=-csearch_path%3Dmyschema`` to keep the tables in a schema.

Passwords never appear in reprs or error messages: :func:`masked` renders them as ``***``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from polytraders.store.errors import StoreUrlError


class Backend(StrEnum):
    """The database behind a store."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVERS = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
_ACCEPTED = "a file path, sqlite:///path or postgresql+psycopg://user:password@host/database"


def resolve(url: str | Path) -> tuple[Backend, URL]:
    """Parse a store URL or path into its backend and a SQLAlchemy URL.

    Plain paths become ``sqlite:///<absolute path>``; PostgreSQL URLs get the psycopg 3
    driver.

    Raises:
        StoreUrlError: empty text, malformed URL, unsupported scheme or driver, or in-memory
            SQLite. The message shows the URL with its password masked.
    """
    text = str(url).strip()
    if not text:
        raise StoreUrlError(f"empty event-store URL; give {_ACCEPTED}")
    if "://" not in text:
        return Backend.SQLITE, _sqlite_file_url(Path(text).expanduser())
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        # ``from None``: the parser's own message may quote the URL with its password.
        raise StoreUrlError(
            f"malformed event-store URL {_mask_text(text)!r}; give {_ACCEPTED}"
        ) from None
    driver = parsed.drivername
    if driver in _SQLITE_DRIVERS:
        if not parsed.database or parsed.database == ":memory:":
            raise StoreUrlError(
                "in-memory SQLite is refused: the event store is durable evidence; give a file"
            )
        return Backend.SQLITE, _sqlite_file_url(Path(parsed.database).expanduser())
    if driver in _POSTGRES_DRIVERS:
        return Backend.POSTGRESQL, parsed.set(drivername="postgresql+psycopg")
    scheme = driver.split("+", 1)[0]
    raise StoreUrlError(
        f"unsupported event-store URL scheme {driver!r} in {masked(parsed)!r}"
        + (" (PostgreSQL is supported only through psycopg 3)" if scheme == "postgresql" else "")
        + f"; give {_ACCEPTED}"
    )


def masked(url: URL) -> str:
    """The URL as text with its password, and any ``*password*`` query parameter (libpq
    accepts ``?password=``), replaced by ``***``."""
    hidden = {key: "***" for key in url.query if "password" in key.lower()}
    if not hidden:
        return url.render_as_string(hide_password=True)
    rendered = url.update_query_dict(hidden).render_as_string(hide_password=True)
    return rendered.replace("=%2A%2A%2A", "=***")


def secrets(url: URL) -> list[str]:
    """The secret values in ``url``: its password and ``*password*`` query parameters."""
    found = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        if "password" in key.lower():
            found.extend([value] if isinstance(value, str) else list(value))
    return [secret for secret in found if secret]


def scrub(text: str, url: URL) -> str:
    """``text`` with the full URL replaced by its masked form and every remaining occurrence
    of a secret (raw or percent-encoded) replaced by ``***``."""
    hidden = secrets(url)
    if not hidden:
        return text
    text = text.replace(url.render_as_string(hide_password=False), masked(url))
    for secret in hidden:
        for form in (secret, quote(secret, safe="")):
            text = text.replace(form, "***")
    return text


def _mask_text(text: str) -> str:
    """Best-effort masking of ``user:password@`` in a URL that failed to parse."""
    scheme, sep, rest = text.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return text
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _sqlite_file_url(path: Path) -> URL:
    return URL.create("sqlite+pysqlite", database=str(path.absolute()))
