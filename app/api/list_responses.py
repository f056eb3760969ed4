"""The body every synced-data list and get-by-id shares, so each route keeps only its own filters.

A list answers one keyset page as JSON (app/api/pagination.py), or with `Accept: text/csv` every page as
one streamed CSV document (app/api/csv_export.py); a get-by-id answers the item or a 404 sentence. What
differs between lists (id column, serializer, page model, CSV file name) is one `ListKind` per list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.csv_export import csv_response, wants_csv
from app.api.pagination import ItemPage, build_page, decode_cursor
from app.db.repositories import synced_data
from app.errors import NotFoundError
from app.runtime import Runtime

ItemT = TypeVar("ItemT", bound=BaseModel)
PageT = TypeVar("PageT", bound=ItemPage[Any])  # the list's own subclass, so its schema keeps its name

_item_id = attrgetter("id")


@dataclass(frozen=True)
class ListKind(Generic[ItemT, PageT]):
    """One list: its id column (page order and cursor), how a row becomes an item, its page model."""

    id_column: Any
    model: type[ItemT]
    item: Callable[[Row[Any]], ItemT]
    page: type[PageT]
    filename: str
    noun: str

    async def respond(
        self,
        request: Request,
        runtime: Runtime,
        session: AsyncSession,
        query: Select[Any],
        *,
        cursor: str | None,
        limit: int,
    ) -> PageT | StreamingResponse:
        """The page after `cursor` (JSON), or the whole filtered list as CSV when the caller asks for it."""
        if wants_csv(request):
            return csv_response(
                runtime.sessionmaker,
                query.order_by(self.id_column),
                self.model,
                self.item,
                filename=self.filename,
            )
        rows = await synced_data.fetch_page(
            session, query, self.id_column, after_id=decode_cursor(cursor), limit=limit + 1
        )
        page = build_page([self.item(r) for r in rows], limit, key=_item_id)
        return self.page(items=list(page.items), next_cursor=page.next_cursor)

    async def one(self, session: AsyncSession, query: Select[Any], row_id: int) -> ItemT:
        """The item of `query` with id `row_id`; a 404 when the caller's account has none."""
        row = (await session.execute(query.where(self.id_column == row_id))).first()
        if row is None:
            raise NotFoundError(f"No {self.noun} with id {row_id}.")
        return self.item(row)
