"""The change feed (API.md §3): `GET /api/v1/changes?after=<cursor>&limit=`.

Every insert, change and deletion mark of the account's contacts, donations, campaigns, recurring
plans and registrations, in the order the service made them; `data` is the row's API representation
as it is now. `change` is `delete` when the row is marked deleted (or gone), else `upsert`. A reader
who stores `next_cursor` and calls again sees every change once (see `change_log` for why).
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.data_schemas import ContactOut, DonationOut, InvalidCursorError, money
from app.api.deps import PrincipalDep, SessionDep
from app.api.schemas import error_responses
from app.db.repositories import change_log
from app.db.repositories.change_log import CurrentRow, Position

router = APIRouter(prefix="/api/v1", tags=["changes"])

ChangeType = Literal["contact", "donation", "campaign", "recurring_plan", "registration"]


class ChangeOut(BaseModel):
    seq: int = Field(description="The change's sequence number (unique; a cursor orders the feed).")
    type: ChangeType
    id: int = Field(description="The row's id, as in its own endpoint.")
    change: Literal["upsert", "delete"]
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


def _plain(value: Any) -> Any:
    return money(value) if isinstance(value, Decimal) else value


def _campaign(current: CurrentRow) -> dict[str, Any]:
    c = current.row
    return {
        "id": c.id,
        "classy_campaign_id": c.classy_id,
        "name": c.name,
        "type": c.type,
        "status": c.status,
        "goal": _plain(c.goal),
        "currency": c.currency,
        "started_at": c.started_at,
        "ended_at": c.ended_at,
        "created_at": c.classy_created_at,
        "updated_at": c.classy_updated_at,
    }


def _recurring_plan(current: CurrentRow) -> dict[str, Any]:
    p = current.row
    return {
        "id": p.id,
        "classy_recurring_plan_id": p.classy_id,
        "contact_id": current.contact_id,
        "classy_campaign_id": p.classy_campaign_id,
        "status": p.status,
        "frequency": p.frequency,
        "amount": _plain(p.amount),
        "currency": p.currency,
        "started_at": p.started_at,
        "canceled_at": p.canceled_at,
        "created_at": p.classy_created_at,
        "updated_at": p.classy_updated_at,
    }


def _registration(current: CurrentRow) -> dict[str, Any]:
    r = current.row
    return {
        "id": r.id,
        "classy_registration_id": r.classy_id,
        "contact_id": current.contact_id,
        "classy_campaign_id": r.campaign_id,
        "campaign_name": current.campaign_name,
        "status": r.status,
        "classy_transaction_id": r.transaction_id,
        "created_at": r.classy_created_at,
        "updated_at": r.classy_updated_at,
    }


def _data(type_: str, current: CurrentRow) -> dict[str, Any]:
    """The row's API representation (the list endpoints' schemas, where they exist)."""
    if type_ == "contact":
        data = ContactOut.of(current.row).model_dump(mode="json")
    elif type_ == "donation":
        data = DonationOut.of(current.row, current.campaign_name).model_dump(mode="json")
    else:
        data = _OTHER_SERIALIZERS[type_](current)
    if hasattr(current.row, "deleted_at"):  # deletion marks (API.md §5)
        data["deleted_at"] = current.row.deleted_at
    return data


_OTHER_SERIALIZERS = {"campaign": _campaign, "recurring_plan": _recurring_plan, "registration": _registration}


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
        type_: await change_log.current_rows(session, account=principal.account, type_=type_, ids=row_ids)
        for type_, row_ids in ids.items()
    }
    items = []
    for entry in logged:
        row = current[entry.type].get(entry.row_id)
        data = _data(entry.type, row) if row is not None else None
        deleted = data is None or data.get("deleted_at") is not None
        items.append(
            ChangeOut(
                seq=entry.seq,
                type=entry.type,
                id=entry.row_id,
                change="delete" if deleted else "upsert",
                data=data,
            )
        )
    last = logged[-1].position if logged else position
    return ChangePage(items=items, next_cursor=encode_position(last))
