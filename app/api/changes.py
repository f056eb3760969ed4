"""The change feed (API.md §3): `GET /api/v1/changes?after=<cursor>&limit=`.

Every insert, change and deletion mark of the account's contacts, donations, campaigns, recurring
plans and registrations, in the order the service made them; `data` is the row's API representation
as it is now. `change` says what that change was, as logged with it: `delete` when it marked the row
deleted (or removed it), else `upsert`; a later mark or unmark does not rewrite earlier entries. A
reader who stores `next_cursor` and calls again sees every change once (see `change_log` for why).
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.data import contact_item, donation_item
from app.api.data_schemas import InvalidCursorError
from app.api.deps import PrincipalDep, SessionDep
from app.api.lists import campaign_item, plan_item, registration_item
from app.api.schemas import error_responses
from app.db.models import Campaign, Contact, Donation, RecurringPlan, Registration
from app.db.repositories import change_log, synced_data
from app.db.repositories.change_log import Position

router = APIRouter(prefix="/api/v1", tags=["changes"])

ChangeType = Literal["contact", "donation", "campaign", "recurring_plan", "registration"]


class ChangeOut(BaseModel):
    seq: int = Field(description="The change's sequence number (unique; a cursor orders the feed).")
    type: ChangeType
    id: int = Field(description="The row's id, as in its own endpoint.")
    change: Literal["upsert", "delete"] = Field(
        description="What this change was: `delete` when it marked the row deleted (or removed it), else "
        "`upsert`. Later changes of the row do not rewrite it."
    )
    data: dict[str, Any] | None = Field(
        description="The row as its own endpoint shows it now; null when the row no longer exists."
    )


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str = Field(description="Pass as `after` next time; given even when `items` is empty.")


def encode_position(position: Position) -> str:
    return base64.urlsafe_b64encode(f"c:{position.xid}:{position.seq}".encode()).decode().rstrip("=")


def decode_position(cursor: str | None) -> Position:
    """The feed position a cursor names; one we did not issue is a 422 with a sentence."""
    if not cursor:
        return Position()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, xid, seq = raw.split(":")
        position = Position(int(xid), int(seq))
        if prefix != "c" or not (0 <= position.xid < 2**63 and 0 <= position.seq < 2**63):
            raise ValueError(raw)
        return position
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError(
            "The cursor is not valid; pass the next_cursor of a previous /changes page."
        ) from exc


def _item_reader(type_: str) -> tuple[Any, Callable[[Row[Any]], BaseModel]]:
    """The id column and row serializer of a type: the same ones its list endpoint uses."""
    return {
        "contact": (Contact.id, contact_item),
        "donation": (Donation.id, donation_item),
        "campaign": (Campaign.id, campaign_item),
        "recurring_plan": (RecurringPlan.id, plan_item),
        "registration": (Registration.id, registration_item),
    }[type_]


async def _current(
    session: AsyncSession, account: str, type_: str, ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The account's rows of one type by id, as their endpoints show them now (deleted marks included)."""
    queries = {
        "contact": lambda: synced_data.contacts_query(account),
        "donation": lambda: synced_data.donations_query(account),
        "campaign": lambda: synced_data.campaigns_query(account),
    }
    if type_ in queries:
        query = queries[type_]()
    elif type_ == "recurring_plan":
        query = await synced_data.recurring_plans_query(session, account)
    else:
        query = await synced_data.registrations_query(session, account)
    id_column, serialize = _item_reader(type_)
    rows = (await session.execute(query.where(id_column.in_(ids)))).all()
    items = [serialize(row) for row in rows]
    return {item.id: item.model_dump(mode="json") for item in items}  # type: ignore[attr-defined]


Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
After = Annotated[
    str | None, Query(max_length=200, description="The next_cursor of the previous page; omit to start.")
]


@router.get("/changes", response_model=ChangePage, responses=error_responses(401, 422))
async def list_changes(
    principal: PrincipalDep, session: SessionDep, limit: Limit = 100, after: After = None
) -> ChangePage:
    """What the service inserted, changed or marked deleted, in the order it did so (a followable feed)."""
    position = decode_position(after)
    logged = await change_log.read_after(session, account=principal.account, after=position, limit=limit)
    ids: dict[str, list[int]] = defaultdict(list)
    for entry in logged:
        ids[entry.type].append(entry.row_id)
    current = {
        type_: await _current(session, principal.account, type_, row_ids) for type_, row_ids in ids.items()
    }
    items = []
    for entry in logged:
        data = current[entry.type].get(entry.row_id)
        change = entry.change
        if change not in ("upsert", "delete"):  # logged before the log said: judge by the row as it is
            change = "delete" if data is None or data.get("deleted_at") is not None else "upsert"
        items.append(ChangeOut(seq=entry.seq, type=entry.type, id=entry.row_id, change=change, data=data))
    last = logged[-1].position if logged else position
    return ChangePage(items=items, next_cursor=encode_position(last))
