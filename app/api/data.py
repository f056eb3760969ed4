"""Synced data (API.md "Synced data"): contacts and donations of the caller's account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.data_schemas import (
    ContactOut,
    ContactPage,
    DonationOut,
    DonationPage,
    decode_cursor,
    encode_cursor,
)
from app.api.deps import PrincipalDep, SessionDep
from app.api.schemas import error_responses
from app.db.repositories import synced_data
from app.errors import NotFoundError, UnprocessableError

router = APIRouter(prefix="/api/v1")  # tags per route: contacts, donations (the operation ids' prefixes)

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.")]
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
UpdatedSince = Annotated[datetime | None, Query(description="Only records updated at or after this time.")]
IncludeDeleted = Annotated[
    bool, Query(description="Also list records Classy no longer has (they carry a deleted_at).")
]


def _utc(value: datetime | None) -> datetime | None:
    """The time in UTC (one without an offset is taken as UTC); 422 when UTC cannot hold it."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise UnprocessableError("updated_since is out of range.", code="validation_error") from None


def _next_cursor(ids: list[int], limit: int) -> str | None:
    return encode_cursor(ids[-1]) if len(ids) == limit else None


@router.get("/contacts", tags=["contacts"], response_model=ContactPage, responses=error_responses(401, 422))
async def list_contacts(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    email: Annotated[str | None, Query(description="Exact email, case-insensitive.")] = None,
    updated_since: UpdatedSince = None,
    include_deleted: IncludeDeleted = False,
) -> ContactPage:
    """Contacts of your account, oldest first."""
    contacts = await synced_data.list_contacts(
        session,
        account=principal.account,
        after_id=decode_cursor(cursor),
        limit=limit,
        email=email,
        updated_since=_utc(updated_since),
        include_deleted=include_deleted,
    )
    return ContactPage(
        items=[ContactOut.of(c) for c in contacts], next_cursor=_next_cursor([c.id for c in contacts], limit)
    )


@router.get(
    "/contacts/{contact_id}",
    tags=["contacts"],
    response_model=ContactOut,
    responses=error_responses(401, 404, 422),
)
async def get_contact(contact_id: RowId, principal: PrincipalDep, session: SessionDep) -> ContactOut:
    """One contact."""
    contact = await synced_data.get_contact(session, account=principal.account, contact_id=contact_id)
    if contact is None:
        raise NotFoundError(f"No contact with id {contact_id}.")
    return ContactOut.of(contact)


@router.get(
    "/donations", tags=["donations"], response_model=DonationPage, responses=error_responses(401, 422)
)
async def list_donations(
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    contact_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this contact's donations.")
    ] = None,
    status: Annotated[str | None, Query(description="Classy status, e.g. success or refunded.")] = None,
    updated_since: UpdatedSince = None,
    include_deleted: IncludeDeleted = False,
) -> DonationPage:
    """Donations (every Classy transaction, whatever its status) of your account, oldest first."""
    rows = await synced_data.list_donations(
        session,
        account=principal.account,
        after_id=decode_cursor(cursor),
        limit=limit,
        contact_id=contact_id,
        status=status,
        updated_since=_utc(updated_since),
        include_deleted=include_deleted,
    )
    return DonationPage(
        items=[DonationOut.of(r.donation, r.campaign_name) for r in rows],
        next_cursor=_next_cursor([r.donation.id for r in rows], limit),
    )


@router.get(
    "/donations/{donation_id}",
    tags=["donations"],
    response_model=DonationOut,
    responses=error_responses(401, 404, 422),
)
async def get_donation(donation_id: RowId, principal: PrincipalDep, session: SessionDep) -> DonationOut:
    """One donation."""
    row = await synced_data.get_donation(session, account=principal.account, donation_id=donation_id)
    if row is None:
        raise NotFoundError(f"No donation with id {donation_id}.")
    return DonationOut.of(row.donation, row.campaign_name)
