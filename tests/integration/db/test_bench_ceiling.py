"""The bench's Postgres ceiling writes the very rows the import writes, typed as each table wants them.

The ceiling (bench/ceiling.py) reads each column's JSON path and type back from the mapping; a column it
misreads fails its COPY/INSERT or, worse, writes another value than the import, and the ratio to the
ceiling means nothing. Every table is compared column by column with what `upsert_page` writes.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.repositories.records import MERGE_STEPS, merge_queued_contacts, upsert_page
from app.sync.streams import STREAMS
from bench import ceiling
from sandbox.store import SandboxConfig, SandboxStore
from tests.db_server import asyncpg_dsn
from tests.sandbox.conftest import SMALL

pytestmark = pytest.mark.timeout(120)


def sandbox_records() -> dict[str, list[dict[str, Any]]]:
    store = SandboxStore(SandboxConfig(seed=7, organizations=1, sizes=SMALL))
    org = next(iter(store.orgs))
    data = {stream.name: store.dump(org, stream.resource) for stream in STREAMS}
    # What the control dump lacks but the API embeds or may send: a dedication, a short card number.
    gift = data["transactions"][0]
    gift["dedication"] = {"type": "honor", "honoree_name": "Ada", "name": "Bo", "email_address": "b@x.org"}
    gift["card_last_four"] = 42
    return data


async def rows(conn: asyncpg.Connection, table: str, key: str, account: str) -> list[tuple[Any, ...]]:
    found = await conn.fetch(f"SELECT * FROM {table} WHERE account = $1 ORDER BY {key}", account)
    skip = {"id", "account", "synced_at", "created_at_db", "contact_id"}
    return [tuple(v for k, v in r.items() if k not in skip) for r in found]


async def test_ceiling_writes_what_the_import_writes(
    db: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    data = sandbox_records()
    async with sessionmaker() as session:
        for stream in STREAMS:
            records = data[stream.name]
            for start in range(0, len(records), 100):
                await upsert_page(
                    session, stream.mapping, account=ceiling.ACCOUNT + "-import", organization_id=1,
                    records=records[start : start + 100],
                )  # fmt: skip
        await session.commit()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for stream in STREAMS:
            mapping = stream.mapping
            await ceiling.upsert_all(conn, mapping, data[stream.name], 1)
            imported = await rows(conn, mapping.table, mapping.key_column, ceiling.ACCOUNT + "-import")
            written = await rows(conn, mapping.table, mapping.key_column, ceiling.ACCOUNT)
            assert len(written) == len(data[stream.name]) > 0, mapping.table
            assert written == imported, mapping.table
        # The floor's one merge of everyone makes the contacts and donor links the import's merge makes.
        async with sessionmaker() as session:
            await merge_queued_contacts(session, account=ceiling.ACCOUNT + "-import")
            await session.commit()
        merged = await ceiling.merge_once(database_url, lambda: 0.0)
        assert merged["merge_linked"] == len(data["transactions"])
        assert list(merged["merge_steps_cpu_s"]) == ["queue taken", *(name for name, _ in MERGE_STEPS)]
        assert await people(conn, ceiling.ACCOUNT) == await people(conn, ceiling.ACCOUNT + "-import")
        copied = await ceiling.write_contacts(asyncpg_dsn(database_url), lambda: 0.0)
        merged_count = await conn.fetchval("SELECT count(*) FROM contact WHERE account = $1", ceiling.ACCOUNT)
        assert copied["contacts"] == merged_count > 0
        contacts_copied, _ = await people(conn, ceiling.ACCOUNT + "-people")
        assert contacts_copied == (await people(conn, ceiling.ACCOUNT))[0]
    finally:
        await conn.close()


async def people(conn: asyncpg.Connection, account: str) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Each contact's fields, and for each donation the email of the contact it is linked to."""
    contacts = await conn.fetch(
        "SELECT * FROM contact WHERE account = $1 ORDER BY email_lower, classy_supporter_id", account
    )
    skip = {"id", "account", "created_at", "updated_at"}
    links = await conn.fetch(
        "SELECT c.email_lower, c.classy_supporter_id FROM donation d JOIN contact c ON c.id = d.contact_id "
        "WHERE d.account = $1 ORDER BY d.classy_transaction_id",
        account,
    )
    return [tuple(v for k, v in r.items() if k not in skip) for r in contacts], [tuple(r) for r in links]


def test_every_column_is_read_or_computed_by_the_mapping() -> None:
    for stream in STREAMS:
        for column in ceiling.columns_of(stream.mapping):
            assert column.kind in ("sql", *ceiling._SIMPLE)
            assert (column.kind == "sql") == bool(column.expr) == (not column.path)
    plans = next(s for s in STREAMS if s.name == "recurring_donation_plans")
    kinds = {c.name: c.kind for c in ceiling.columns_of(plans.mapping)}
    assert kinds["next_charge_on"] == "date"
