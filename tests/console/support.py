"""Helpers of the console tests: test settings, a movable clock, signing in as a browser
would, reading a page's CSRF token."""

from __future__ import annotations

from typing import NamedTuple

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response

from polytraders.console.session import LOGIN_COOKIE
from polytraders.console.settings import ConsoleSettings
from polytraders.store.console_users import ConsoleRole

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""argon2id at a low cost: the tests sign in many times (the cost lives in each hash)."""

ORIGIN = "http://testserver"
PASSWORD = "correct horse battery staple"
USERS = {
    "val": ConsoleRole.VIEWER,
    "otto": ConsoleRole.OPERATOR,
    "rita": ConsoleRole.REVIEWER,
    "ada": ConsoleRole.ADMIN,
}
T0_NS = 1_800_000_000 * 1_000_000_000


class Recorded(NamedTuple):
    """The shared store and the refs of its runs by source name."""

    url: str
    refs: dict[str, str]


class Clock:
    """A wall clock the test moves (ns since the epoch)."""

    def __init__(self, now_ns: int = T0_NS) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance_s(self, seconds: int) -> None:
        self.now_ns += seconds * 1_000_000_000


def settings(**overrides: object) -> ConsoleSettings:
    """Test settings: a fixed secret, the TestClient's host name."""
    values: dict[str, object] = {
        "secret": b"s" * 32,
        "secret_source": "env",
        "secure_cookies": False,
        "allowed_hosts": ("testserver",),
    }
    values.update(overrides)
    return ConsoleSettings(**values)  # type: ignore[arg-type]


def login_token(client: TestClient) -> str:
    """Open the sign-in form; return its hidden token (its cookie stays in the client)."""
    page = client.get("/login")
    assert page.status_code == 200
    assert LOGIN_COOKIE in client.cookies
    marker = 'name="login_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def sign_in(
    client: TestClient, name: str, password: str = PASSWORD, next_path: str = "/"
) -> Response:
    """Post the sign-in form as a browser on this origin would; the response (not followed)."""
    token = login_token(client)
    return client.post(
        "/login",
        data={"name": name, "password": password, "login_token": token, "next": next_path},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, read from the sign-out form of the home page."""
    page = client.get("/")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
