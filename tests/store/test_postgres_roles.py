"""PostgreSQL: a role with read rights only can open an existing store and read it (the
console's case); its writes fail closed. Needs the machine's real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.store import EventStore, StoreWriteError
from tests.store import factories as f

pytestmark = pytest.mark.services


def test_a_read_only_role_can_open_and_read_but_not_write(pg_schema_url: str) -> None:
    run = ids.run_id("read-only", 1)
    with EventStore.open(pg_schema_url) as writer:
        f.start(writer, run)
        for item in f.timeline(run, 2):
            writer.record(item)
    url = sa.make_url(pg_schema_url)
    schema_name = str(url.query["options"]).split("=", 1)[1]
    role = f"pt_reader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex  # works whether the server trusts local logins or not
    admin = sa.create_engine(url.set(query={}))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema_name} TO {role}")
        connection.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema_name} TO {role}")
    try:
        reader_url = url.set(username=role, password=password)
        with EventStore.open(reader_url.render_as_string(hide_password=False)) as reader:
            assert password not in repr(reader)
            assert reader.envelopes(run) == f.timeline(run, 2)
            assert reader.check_integrity(run) == []
            with pytest.raises(StoreWriteError, match="InsufficientPrivilege"):
                reader.audit(actor="console", action="look", ts_ns=1)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}")
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
