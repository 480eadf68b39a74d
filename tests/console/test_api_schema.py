"""The JSON API against its own OpenAPI schema (``/api/openapi.json``), property-based with
schemathesis in process (its ASGI transport on the real app) over the console tests' store of
real recorded runs:

- signed in as an admin, every operation, fed generated valid and invalid parameters (and the
  store's real run references wherever a run is named), never answers 5xx and always answers
  what its schema says (a documented status, media type and body);
- without a session, every operation answers 401 (never 5xx, never data).

Bounded: :data:`EXAMPLES` per operation, a 2 s deadline per example, derandomized (same cases
every run); about 10 s for all of it on top of building the shared store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from polytraders.console import api
from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck
from polytraders.console.session import CSRF_HEADER, SESSION_COOKIE
from polytraders.store import EventStore
from tests.console.support import CHEAP_HASHER, ORIGIN, Clock, Recorded, csrf_of, sign_in
from tests.console.support import settings as console_settings

EXAMPLES = 50
"""Generated cases per operation (fewer when an operation has fewer distinct requests)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
"""No 5xx; every status, media type and body is the one the schema documents."""

API_OPERATIONS = sorted(
    (method, route.path)
    for route in api.router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
)

BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def schema(recorded: Recorded) -> Iterator[BaseSchema]:
    """The app's schema, loaded from the app itself, bound to it for the calls."""
    with EventStore.open(recorded.url, create=False) as store:
        app = create_app(
            store,
            console_settings(),
            clock_ns=Clock(),
            password_check=PasswordCheck(CHEAP_HASHER),
        )
        yield schemathesis.openapi.from_asgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def admin_headers(schema: BaseSchema) -> dict[str, str]:
    """What a signed-in admin's client sends: the session cookie, its origin and the CSRF
    token (the last two matter to unsafe methods, refused without them)."""
    with TestClient(schema.app, base_url=ORIGIN) as client:
        assert sign_in(client, "ada").status_code == 303
        return {
            "Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}",
            "Origin": ORIGIN,
            CSRF_HEADER: csrf_of(client),
        }


def _cases(schema: BaseSchema, method: str, path: str, refs: list[str]) -> st.SearchStrategy:
    """Generated cases of one operation: valid and invalid parameters, and valid ones naming
    each real run (``{ref}``, or the desk-status ``run``)."""
    operation = schema[path][method]
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if "{ref}" in path:
        strategies += [operation.as_strategy(path_parameters={"ref": ref}) for ref in refs]
    if path == "/api/desk-status":
        strategies += [operation.as_strategy(query={"run": ref}) for ref in refs]
    return st.one_of(strategies)


def test_the_schema_lists_every_api_route(schema: BaseSchema) -> None:
    listed = sorted(
        (method.upper(), path)
        for path, operations in schema.raw_schema["paths"].items()
        for method in operations
    )
    assert listed == API_OPERATIONS


@pytest.mark.parametrize(("method", "path"), API_OPERATIONS)
def test_admin_gets_no_server_error_and_schema_conforming_answers(
    schema: BaseSchema,
    admin_headers: dict[str, str],
    recorded: Recorded,
    method: str,
    path: str,
) -> None:
    statuses: set[int] = set()

    @BOUNDED
    @given(case=_cases(schema, method, path, sorted(recorded.refs.values())))
    def call(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(headers=admin_headers, checks=CHECKS)
        statuses.add(response.status_code)

    call()
    assert 200 in statuses, f"{method} {path} never answered 200: {sorted(statuses)}"


@pytest.mark.parametrize(("method", "path"), API_OPERATIONS)
def test_without_a_session_every_operation_answers_401(
    schema: BaseSchema, recorded: Recorded, method: str, path: str
) -> None:
    @BOUNDED
    @given(case=_cases(schema, method, path, sorted(recorded.refs.values())))
    def call(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(headers={"Origin": ORIGIN}, checks=CHECKS)
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": "sign in first"}

    call()


def test_a_malformed_code_filter_is_a_documented_validation_error(
    client: TestClient, recorded: Recorded
) -> None:
    # regression: the query layer's ValueError came back as 422 {"detail": "<text>"}, which
    # is not the HTTPValidationError the schema documents for 422
    sign_in(client, "val")
    response = client.get(
        f"/api/runs/{recorded.refs['backtest']}/envelopes", params={"code": "not_a_code"}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "code"]
    assert error["type"] == "string_pattern_mismatch"
    ok = client.get(
        f"/api/runs/{recorded.refs['backtest']}/envelopes", params={"code": "WELL_FORMED"}
    )
    assert ok.status_code == 200
