"""A sync run that crashes in the database logs what failed and where, never the donor's data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.logging import JsonFormatter
from sandbox.server import SandboxHandle
from tests.integration.sync.helpers import connect, service, sync_settings, wait_for_run

FIRST, LAST = "Zebulonia", "Quackenbushwhistle"
EMAIL = "zebulonia.quackenbush@donor-example.org"
STREET = "742 Evergreen Hollow Lane"


@pytest.fixture
def all_logs() -> Iterator[logging.Handler]:
    """A handler for everything logged, through the service's formatter (SQLAlchemy's loggers too)."""
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture
async def supporter_writes_crash(db: AsyncEngine) -> AsyncIterator[None]:
    """Postgres rejects our donor's row with an error that quotes it (as constraint errors do)."""
    async with db.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION test_crash_supporter() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.email = '{EMAIL}' THEN "
                "RAISE EXCEPTION 'cannot store % % <%>', NEW.first_name, NEW.last_name, NEW.email "
                "USING DETAIL = format('Failing row contains %s.', NEW); END IF; RETURN NEW; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER test_crash_supporter BEFORE INSERT OR UPDATE ON supporter "
                "FOR EACH ROW EXECUTE FUNCTION test_crash_supporter()"
            )
        )
    try:
        yield
    finally:
        async with db.begin() as connection:
            await connection.execute(text("DROP TRIGGER test_crash_supporter ON supporter"))
            await connection.execute(text("DROP FUNCTION test_crash_supporter()"))


async def test_no_donor_value_in_the_logs_of_a_crashed_run(
    database_url: str, sandbox: SandboxHandle, supporter_writes_crash: None, all_logs: logging.StreamHandler
) -> None:
    organization_id = sandbox.organization_ids[0]
    httpx.post(
        f"{sandbox.control_url}/organizations/{organization_id}/supporters",
        json={"first_name": FIRST, "last_name": LAST, "email_address": EMAIL, "address1": STREET},
    ).raise_for_status()
    async with service(sync_settings(database_url, sandbox, LOG_LEVEL="DEBUG")) as client:
        # The service set up its logging (LOG_LEVEL=DEBUG) at start-up; listen beside its handler.
        logging.getLogger().addHandler(all_logs)
        await connect(client, sandbox, organization_id)
        run = await wait_for_run(client)
    assert run["status"] == "failed", run
    logs = all_logs.stream.getvalue()
    assert "sync stream crashed" in logs or "sync run crashed" in logs, logs[-3000:]
    for value in (FIRST, LAST, EMAIL, STREET):
        assert value not in logs, f"{value!r} reached the logs"
        assert value not in (run["error"] or ""), f"{value!r} reached the run's error"
    # Nor any other supporter of the page that failed (a statement's parameters are the whole page).
    supporters = httpx.get(f"{sandbox.control_url}/organizations/{organization_id}/supporters/all").json()
    emails = [row["email_address"] for row in supporters if row.get("email_address")]
    assert len(emails) > 100
    leaked = [email for email in emails if email in logs]
    assert not leaked, f"{len(leaked)} supporter emails reached the logs, e.g. {leaked[:3]}"
    assert "sqlstate=P0001" in logs, "the failure is still described: type, SQLSTATE, where"
    # The run's lines say which integration and run they belong to, even where the code does not pass them.
    crashed = [json.loads(line) for line in logs.splitlines() if "crashed" in line]
    assert crashed and all(line["run_id"] == run["id"] and line["integration_id"] for line in crashed)
