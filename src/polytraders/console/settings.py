"""The console's settings: where its session secret comes from, cookie flags, allowed host
names, the sign-in limit and the windows of its queries.

The session secret is, in this order: the environment variable
:data:`SESSION_KEY_ENV` (at least 32 characters), a file given with ``--secret-file`` (readable by
its owner only: mode 600 or stricter), or random bytes generated for this process, in which
case every session ends when the console restarts.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

import msgspec

SESSION_KEY_ENV = "POLYTRADERS_CONSOLE_SECRET"
"""Environment variable holding the session secret."""

MIN_SECRET_CHARS = 32

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
"""Host names served on a loopback bind (Host headers are compared without their port)."""


class ConsoleSettingsError(ValueError):
    """A setting that cannot be used (one line)."""


class ConsoleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What the console app needs besides its store.

    Attributes:
        secret: the session secret (≥ 32 bytes).
        secret_source: where it came from (``env``, ``file``, ``generated``), shown on home.
        secure_cookies: send cookies with the Secure flag (HTTPS only).
        allowed_hosts: the Host header values served (others get 400: DNS rebinding).
        session_max_age_s: a session's lifetime from sign-in.
        login_max_failures, login_window_s: the sign-in limit per user and per address.
        recent_runs: how many of the latest runs the reason-code counts cover.
        per_run_envelopes: how many of each such run's last decisions are counted.
        gate_rows_per_bot: how many of a bot's newest gate rows the promotion path reads.
        audit_window: how many of the newest audit entries the promotion path (activity,
            signer threshold) and the readiness board (recorded scores) read.
    """

    secret: bytes
    secret_source: str
    secure_cookies: bool
    allowed_hosts: tuple[str, ...]
    session_max_age_s: int = 12 * 3600
    login_max_failures: int = 5
    login_window_s: int = 15 * 60
    recent_runs: int = 10
    per_run_envelopes: int = 20_000
    gate_rows_per_bot: int = 400
    audit_window: int = 20_000


def is_loopback(host: str) -> bool:
    """True for a loopback address or ``localhost``."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_secret(environ: Mapping[str, str], secret_file: Path | None) -> tuple[bytes, str]:
    """The session secret and its source (module docstring).

    Raises:
        ConsoleSettingsError: the variable is too short; the file is missing, unreadable,
            readable by group or others, or too short.
    """
    value = environ.get(SESSION_KEY_ENV)
    if value is not None:
        if len(value) < MIN_SECRET_CHARS:
            raise ConsoleSettingsError(
                f"{SESSION_KEY_ENV} must hold at least {MIN_SECRET_CHARS} characters"
            )
        return value.encode(), "env"
    if secret_file is not None:
        try:
            mode = secret_file.stat().st_mode
            text = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConsoleSettingsError(
                f"--secret-file {secret_file}: {exc.strerror or exc}"
            ) from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConsoleSettingsError(
                f"--secret-file {secret_file}: readable by others (mode "
                f"{stat.S_IMODE(mode):o}); chmod 600 it"
            )
        if len(text) < MIN_SECRET_CHARS:
            raise ConsoleSettingsError(
                f"--secret-file {secret_file}: holds fewer than {MIN_SECRET_CHARS} characters"
            )
        return text.encode(), "file"
    return secrets.token_bytes(32), "generated"


def settings_for(
    *,
    host: str,
    allowed_hosts: tuple[str, ...],
    secure_cookies: bool | None,
    secret_file: Path | None,
    environ: Mapping[str, str] = os.environ,
) -> ConsoleSettings:
    """Settings of a console bound to ``host``: on loopback the loopback names are
    allowed and cookies are not Secure unless asked; elsewhere ``allowed_hosts`` must name
    the host names clients use and cookies are Secure unless ``secure_cookies`` is False.

    Raises:
        ConsoleSettingsError: a non-loopback bind without allowed hosts, or a bad secret.
    """
    loopback = is_loopback(host)
    if not loopback and not allowed_hosts:
        raise ConsoleSettingsError(
            f"--host {host} is not loopback: give --allowed-host with each host name clients "
            "use to reach the console"
        )
    hosts = allowed_hosts or LOOPBACK_HOSTS
    secret, source = load_secret(environ, secret_file)
    return ConsoleSettings(
        secret=secret,
        secret_source=source,
        secure_cookies=(not loopback) if secure_cookies is None else secure_cookies,
        allowed_hosts=hosts,
    )
