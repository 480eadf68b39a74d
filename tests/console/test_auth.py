"""Sign-in, sessions, the sign-in limit, CSRF and same-origin checks, roles, and a walk over
every route of the app: nothing changes state without a session, its role and its token."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck, hash_password
from polytraders.console.session import SESSION_COOKIE
from polytraders.store import EventStore
from polytraders.store.console_users import (
    ConsoleRole,
    add_user,
    change_password,
    remove_user,
)
from tests.console.support import (
    CHEAP_HASHER,
    ORIGIN,
    PASSWORD,
    T0_NS,
    Clock,
    csrf_of,
    login_token,
    settings,
    sign_in,
)


def test_sign_in_sets_a_strict_http_only_cookie_and_opens_the_pages(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    response = sign_in(client, "val", next_path="/runs")
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # loopback test settings
    assert client.get("/api/me").json() == {"name": "val", "role": "viewer"}
    assert client.get("/runs").status_code == 200


def test_secure_flag_when_configured(store: EventStore, clock: Clock) -> None:
    app = create_app(
        store,
        settings(secure_cookies=True),
        clock_ns=clock,
        password_check=PasswordCheck(CHEAP_HASHER),
    )
    with TestClient(app, base_url=ORIGIN) as client:
        assert "Secure" in sign_in(client, "val").headers["set-cookie"]


def test_a_wrong_password_or_unknown_name_is_refused_alike(client: TestClient) -> None:
    wrong = sign_in(client, "val", password="not the password")
    unknown = sign_in(client, "nobody", password="not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong name or password." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/api/me").status_code == 401


def test_the_way_back_after_sign_in_keeps_the_whole_query(client: TestClient) -> None:
    sent = client.get("/runs?status=COMPLETED&source=paper", follow_redirects=False)
    assert sent.headers["location"] == "/login?next=/runs%3Fstatus%3DCOMPLETED%26source%3Dpaper"
    form = client.get(sent.headers["location"])
    assert 'name="next" value="/runs?status=COMPLETED&amp;source=paper"' in form.text
    back = sign_in(client, "val", next_path="/runs?status=COMPLETED&source=paper")
    assert back.headers["location"] == "/runs?status=COMPLETED&source=paper"


def test_the_next_target_never_leaves_the_site(client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil", "/\t/evil.example"):
        assert sign_in(client, "val", next_path=target).headers["location"] == "/"
        client.cookies.clear()


def test_sign_in_limit_per_user_and_address_with_the_clock(
    client: TestClient, clock: Clock
) -> None:
    for _ in range(5):
        assert sign_in(client, "otto", password="wrong password!").status_code == 401
    # the right password is refused too while the limit holds
    limited = sign_in(client, "otto")
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text
    # the address is limited as well: another user from the same client
    assert sign_in(client, "rita").status_code == 429
    clock.advance_s(15 * 60 - 1)
    assert sign_in(client, "otto").status_code == 429
    clock.advance_s(2)  # the oldest failures left the 15-minute window
    assert sign_in(client, "otto").status_code == 303


def test_the_sign_in_form_needs_its_own_token(client: TestClient, clock: Clock) -> None:
    data = {"name": "val", "password": PASSWORD, "login_token": "forged", "next": "/"}
    login_token(client)
    forged = client.post("/login", data=data, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert forged.status_code == 403
    token = login_token(client)
    clock.advance_s(31 * 60)  # the form expired
    data["login_token"] = token
    old = client.post("/login", data=data, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert old.status_code == 403
    assert "expired" in old.text


def test_cross_site_posts_are_refused_before_any_route(client: TestClient) -> None:
    token = login_token(client)
    data = {"name": "val", "password": PASSWORD, "login_token": token, "next": "/"}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/form"},
        {},
        {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"},
    ):
        refused = client.post("/login", data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, headers
        assert "refused" in refused.json()["detail"]
    same = client.post(
        "/login", data=data, headers={"Referer": f"{ORIGIN}/login"}, follow_redirects=False
    )
    assert same.status_code == 303


def test_an_unknown_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/login", headers={"Host": "rebound.example"}).status_code == 400


def test_logout_needs_the_csrf_token_and_voids_the_cookie(client: TestClient) -> None:
    sign_in(client, "val")
    cookie = client.cookies[SESSION_COOKIE]
    no_token = client.post("/logout", headers={"Origin": ORIGIN}, follow_redirects=False)
    assert no_token.status_code == 403
    wrong = client.post(
        "/logout", data={"csrf_token": "0" * 64}, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert wrong.status_code == 403
    token = csrf_of(client)
    done = client.post(
        "/logout", data={"csrf_token": token}, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert done.status_code == 303
    assert client.get("/api/me").status_code == 401
    # the copied cookie is void too
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/me").status_code == 401


def test_sessions_expire_and_end_with_a_user_change(
    client: TestClient, store: EventStore, clock: Clock
) -> None:
    add_user(
        store,
        name="tmp-session",
        role=ConsoleRole.VIEWER,
        password_hash=hash_password(PASSWORD, CHEAP_HASHER),
        actor="test",
        ts_ns=T0_NS,
    )
    sign_in(client, "tmp-session")
    assert client.get("/api/me").status_code == 200
    change_password(
        store,
        name="tmp-session",
        password_hash=hash_password("another long password", CHEAP_HASHER),
        actor="test",
        ts_ns=T0_NS,
    )
    assert client.get("/api/me").status_code == 401  # a password change ends sessions
    client.cookies.clear()
    assert sign_in(client, "tmp-session", password="another long password").status_code == 303
    clock.advance_s(12 * 3600 + 1)
    assert client.get("/api/me").status_code == 401  # expired
    clock.advance_s(-(12 * 3600 + 1))
    assert client.get("/api/me").status_code == 200
    remove_user(store, name="tmp-session", actor="test", ts_ns=T0_NS)
    assert client.get("/api/me").status_code == 401  # removed


def test_a_forged_cookie_is_no_session(client: TestClient) -> None:
    sign_in(client, "val")
    payload, mac = client.cookies[SESSION_COOKIE].split(".")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, payload + "." + mac[::-1])
    assert client.get("/api/me").status_code == 401
    other = create_app(
        client.app.state.console.store,  # type: ignore[attr-defined]
        settings(secret=b"x" * 32),
        password_check=PasswordCheck(CHEAP_HASHER),
    )
    with TestClient(other, base_url=ORIGIN) as elsewhere:
        client.cookies.clear()
        sign_in(client, "val")
        assert client.get("/api/me").status_code == 200
        elsewhere.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
        assert elsewhere.get("/api/me").status_code == 401  # signed with another secret


@pytest.mark.parametrize(
    ("name", "status"), [("val", 403), ("otto", 403), ("rita", 403), ("ada", 200)]
)
def test_the_users_page_and_api_need_admin(client: TestClient, name: str, status: int) -> None:
    sign_in(client, name)
    assert client.get("/users").status_code == status
    assert client.get("/api/users").status_code == status
    if status == 403:
        assert "this needs the admin role" in client.get("/users").text


def test_roles_are_ordered() -> None:
    order = list(ConsoleRole)
    assert order == [
        ConsoleRole.VIEWER,
        ConsoleRole.OPERATOR,
        ConsoleRole.REVIEWER,
        ConsoleRole.ADMIN,
    ]
    for i, role in enumerate(order):
        assert [role.allows(other) for other in order] == [j <= i for j in range(len(order))]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "run-0000000000000000@1", path)


def test_every_route_that_changes_state_refuses_without_session_role_or_token(
    client: TestClient,
) -> None:
    """Walks every route of the app: a GET answers 401/303 without a session (or is public:
    the sign-in form, the static files, the OpenAPI schema); any other method is refused
    without a session, and signed in without the CSRF token (the sign-in form itself needs
    its form token instead)."""
    routes = [r for r in client.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    public = {"/login", "/api/openapi.json"}
    unsafe = [(r.path, m) for r in routes for m in sorted(r.methods) if m not in ("GET", "HEAD")]
    assert unsafe  # the walk covers something
    for route in routes:
        if "GET" in route.methods and route.path not in public:
            response = client.get(_concrete(route.path), follow_redirects=False)
            assert response.status_code in (401, 303), route.path
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")
    for path, method in unsafe:
        response = client.request(
            method, _concrete(path), headers={"Origin": ORIGIN}, follow_redirects=False
        )
        # the sign-in form without its form token: 422 (fields missing) or 403
        expected = (403, 422) if path == "/login" else (401,)
        assert response.status_code in expected, (path, method, response.status_code)
    sign_in(client, "ada")
    for path, method in unsafe:
        if path == "/login":
            continue
        response = client.request(
            method, _concrete(path), headers={"Origin": ORIGIN}, follow_redirects=False
        )
        assert response.status_code == 403, (path, method)
        assert "missing or wrong CSRF token" in response.text
    token = csrf_of(client)
    for path, method in unsafe:
        response = client.request(
            method,
            _concrete(path),
            data={"csrf_token": token},
            headers={"Origin": "http://evil.example"},
            follow_redirects=False,
        )
        assert response.status_code == 403, (path, method)
        assert "cross-site request refused" in response.text
    assert client.get("/api/me").status_code == 200  # the session survived all of that
