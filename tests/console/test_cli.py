"""``polytraders console`` through its typer app: users added, re-passworded and removed
with audit entries and no password in any output; a user added by the CLI signs in to the
real app; the serve command's refusals (a non-loopback bind without allowed hosts, a secret
file others can read)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import msgspec
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from polytraders.commands.console import app as console_app
from polytraders.console.app import create_app
from polytraders.console.settings import (
    SESSION_KEY_ENV,
    ConsoleSettingsError,
    load_secret,
    settings_for,
)
from polytraders.store import EventStore
from polytraders.store.console_users import USER_CHANGED, find_user
from tests.console.support import ORIGIN, settings, sign_in
from tests.waiting import wait_until

SECRET_WORDS = "a long secret phrase nobody types"

cli = typer.Typer()
cli.add_typer(console_app, name="console")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = str(tmp_path / "desk.sqlite")
    EventStore.open(url).close()
    return url


def _run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["console", *args], input=stdin)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_user_add_passwd_remove_are_audited_and_never_show_the_password(store_url: str) -> None:
    outputs = []
    code, out = _run(
        "user", "add", "--store", store_url, "--role", "operator", "--operator", "root",
        "--password-stdin", "ana", stdin=SECRET_WORDS + "\n",
    )  # fmt: skip
    outputs.append(out)
    assert code == 0, out
    assert "console user ana added as operator by root" in out
    code, out = _run(
        "user", "add", "--store", store_url, "--password-stdin", "ana", stdin=SECRET_WORDS + "\n"
    )
    outputs.append(out)
    assert code == 1
    assert "exists already" in out
    code, out = _run(
        "user", "passwd", "--store", store_url, "--operator", "root", "--password-stdin", "ana",
        stdin="another secret phrase, longer\n",
    )  # fmt: skip
    outputs.append(out)
    assert code == 0, out
    with EventStore.open(store_url, create=False) as store:
        user = find_user(store, "ana")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        # the CLI's hash (default argon2 cost) signs in to the real app
        app = create_app(store, settings())
        with TestClient(app, base_url=ORIGIN) as client:
            assert sign_in(client, "ana", password=SECRET_WORDS).status_code == 401
            assert (
                sign_in(client, "ana", password="another secret phrase, longer").status_code == 303
            )
    code, out = _run("user", "remove", "--store", store_url, "--operator", "root", "ana")
    outputs.append(out)
    assert code == 0, out
    code, out = _run("user", "remove", "--store", store_url, "ana")
    outputs.append(out)
    assert code == 1
    assert "no console user 'ana'" in out
    with EventStore.open(store_url, create=False) as store:
        audit = [e for e in store.audit_log() if e.action == USER_CHANGED]
        assert [(e.actor, msgspec.json.decode(e.detail)["event"]) for e in audit] == [
            ("root", "added"),
            ("root", "password_changed"),
            ("root", "removed"),
        ]
        assert all("secret" not in e.detail and "argon2" not in e.detail for e in audit)
    joined = "\n".join(outputs)
    assert "secret phrase" not in joined
    assert "$argon2" not in joined


def test_bad_input_is_refused_with_one_line(store_url: str, tmp_path: Path) -> None:
    code, out = _run(
        "user", "add", "--store", store_url, "--password-stdin", "ana", stdin="short\n"
    )
    assert code == 2
    assert "at least 12 characters" in out
    assert "short" not in out.replace("at least", "")
    code, out = _run(
        "user", "add", "--store", store_url, "--password-stdin", "Ana!", stdin=SECRET_WORDS
    )
    assert code == 2
    assert "user name" in out
    code, out = _run("user", "add", "--store", store_url, "ana")  # no terminal here
    assert code == 2
    assert "use --password-stdin" in out
    code, out = _run(
        "user", "add", "--store", str(tmp_path / "missing.sqlite"), "--password-stdin", "ana",
        stdin=SECRET_WORDS,
    )  # fmt: skip
    assert code == 2
    assert not (tmp_path / "missing.sqlite").exists()
    code, out = _run("user", "add", "--store", store_url, "--role", "root", "ana")
    assert code == 2


def test_serve_refuses_an_open_bind_without_allowed_hosts(store_url: str) -> None:
    code, out = _run("--store", store_url, "--host", "0.0.0.0")
    assert code == 2
    assert "give --allowed-host" in out


def test_settings_on_and_off_loopback(tmp_path: Path) -> None:
    loop = settings_for(
        host="127.0.0.1", allowed_hosts=(), secure_cookies=None, secret_file=None, environ={}
    )
    assert (loop.secure_cookies, loop.allowed_hosts, loop.secret_source) == (
        False,
        ("127.0.0.1", "localhost"),
        "generated",
    )
    assert len(loop.secret) == 32
    other = settings_for(
        host="10.0.0.5",
        allowed_hosts=("desk.example",),
        secure_cookies=None,
        secret_file=None,
        environ={},
    )
    assert (other.secure_cookies, other.allowed_hosts) == (True, ("desk.example",))
    with pytest.raises(ConsoleSettingsError, match="--allowed-host"):
        settings_for(
            host="0.0.0.0", allowed_hosts=(), secure_cookies=None, secret_file=None, environ={}
        )


def test_the_secret_from_env_or_a_private_file(tmp_path: Path) -> None:
    assert load_secret({SESSION_KEY_ENV: "k" * 32}, None) == (b"k" * 32, "env")
    with pytest.raises(ConsoleSettingsError, match="at least 32"):
        load_secret({SESSION_KEY_ENV: "short"}, None)
    secret = tmp_path / "console.secret"
    secret.write_text("f" * 40 + "\n")
    secret.chmod(0o644)
    with pytest.raises(ConsoleSettingsError, match=r"readable by others .*chmod 600"):
        load_secret({}, secret)
    secret.chmod(0o600)
    assert load_secret({}, secret) == (b"f" * 40, "file")
    with pytest.raises(ConsoleSettingsError, match=r"missing\.secret"):
        load_secret({}, tmp_path / "missing.secret")


def test_serve_answers_on_its_port_until_stopped(store_url: str) -> None:
    """The serve command itself, in a subprocess: it binds loopback, serves the sign-in page
    and refuses a cross-site POST; SIGTERM stops it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    program = (
        "import typer; from polytraders.commands.console import app; "
        "cli = typer.Typer(); cli.add_typer(app, name='console'); cli()"
    )
    env = {**os.environ, SESSION_KEY_ENV: "k" * 40, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, "-c", program, "console", "--store", store_url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith(f"console: http://127.0.0.1:{port}/ over sqlite"), first
        url = f"http://127.0.0.1:{port}"
        pages: list[httpx.Response] = []

        def answered() -> bool:
            try:
                pages.append(httpx.get(f"{url}/login", timeout=2))
            except httpx.TransportError:
                return False
            return True

        wait_until(answered, 15, "the console answering on its port")
        page = pages[-1]
        assert page.status_code == 200
        assert "What this page is for" in page.text
        refused = httpx.post(f"{url}/logout", headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403
        assert httpx.get(f"{url}/api/runs").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=15)
