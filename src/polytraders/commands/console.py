"""``polytraders console``: serve the operator console over an event store, and manage its
users (``docs/console.md``).

``polytraders console --store URL [--host 127.0.0.1] [--port 8080]`` serves until Ctrl-C;
``polytraders console user add|passwd|remove --store URL NAME`` changes a user, with an audit
entry. Passwords are read from the terminal without echo (twice), or with
``--password-stdin`` as the first line of standard input; they are never printed or logged.

Exit codes: 0 done; 1 refused because of a user's state (adding a name that exists, changing
or removing one that does not); 2 a bad option, a missing console extra, or a store problem
(one line on stderr).
"""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from polytraders.commands.evidence_cli import DEFAULT_STORE, StoreOption, fail, opened
from polytraders.store.console_users import (
    ConsoleRole,
    add_user,
    change_password,
    remove_user,
)

app = typer.Typer(
    name="console",
    help="The operator console: serve it over an event store (default), manage its users.",
)
user_app = typer.Typer(
    name="user", help="Add, re-password and remove console users.", no_args_is_help=True
)
app.add_typer(user_app, name="user")

NameArgument = Annotated[str, typer.Argument(help="The user's name (lower case).")]
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who acts (audited; default: the login name).")
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


def _operator(name: str) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _require_extra() -> None:
    try:
        import argon2  # noqa: F401
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        fail(
            f"the console needs its extra ({exc.name} is missing): "
            "pip install 'polytraders[console]'"
        )


def _password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at the terminal."""
    from polytraders.console.auth import MIN_PASSWORD_CHARS

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            fail("no terminal to read the password from: use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            fail("the two passwords differ; nothing was changed")
    if len(password) < MIN_PASSWORD_CHARS:
        fail(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


@user_app.command("add")
def user_add(
    name: NameArgument,
    store: StoreOption = DEFAULT_STORE,
    role: Annotated[
        ConsoleRole, typer.Option("--role", help="viewer < operator < reviewer < admin.")
    ] = ConsoleRole.VIEWER,
    operator: OperatorOption = "",
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Add a console user with a role."""
    _require_extra()
    from polytraders.console.auth import hash_password

    password = _password(password_stdin)
    with opened(store) as handle:
        add_user(
            handle,
            name=name,
            role=role,
            password_hash=hash_password(password),
            actor=_operator(operator),
            ts_ns=time.time_ns(),
        )
    typer.echo(f"console user {name} added as {role.value} by {_operator(operator)}")


@user_app.command("passwd")
def user_passwd(
    name: NameArgument,
    store: StoreOption = DEFAULT_STORE,
    operator: OperatorOption = "",
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Change a console user's password (its open sessions end)."""
    _require_extra()
    from polytraders.console.auth import hash_password

    password = _password(password_stdin)
    with opened(store) as handle:
        change_password(
            handle,
            name=name,
            password_hash=hash_password(password),
            actor=_operator(operator),
            ts_ns=time.time_ns(),
        )
    typer.echo(f"password of console user {name} changed by {_operator(operator)}")


@user_app.command("remove")
def user_remove(
    name: NameArgument, store: StoreOption = DEFAULT_STORE, operator: OperatorOption = ""
) -> None:
    """Remove a console user (its open sessions end)."""
    with opened(store) as handle:
        remove_user(handle, name=name, actor=_operator(operator), ts_ns=time.time_ns())
    typer.echo(f"console user {name} removed by {_operator(operator)}")


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    store: StoreOption = DEFAULT_STORE,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default: loopback only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients use to reach the console (repeat; needed off loopback).",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Cookies only over HTTPS (default: on unless bound to loopback).",
        ),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            help="File holding the session secret (mode 600); POLYTRADERS_CONSOLE_SECRET wins.",
        ),
    ] = None,
) -> None:
    """Serve the console over the event store at --store until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    _require_extra()
    import uvicorn

    from polytraders.console.app import create_app
    from polytraders.console.settings import ConsoleSettingsError, settings_for

    try:
        settings = settings_for(
            host=host,
            allowed_hosts=tuple(allowed_host or ()),
            secure_cookies=secure_cookies,
            secret_file=secret_file,
        )
    except ConsoleSettingsError as exc:
        fail(str(exc))
    with opened(store) as handle:
        typer.echo(f"console: http://{host}:{port}/ over {handle.url}")
        if settings.secret_source == "generated":
            typer.echo(
                "console: no session secret configured (POLYTRADERS_CONSOLE_SECRET or "
                "--secret-file): sessions end when the console stops"
            )
        uvicorn.run(create_app(handle, settings), host=host, port=port, log_level="warning")
