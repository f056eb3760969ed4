"""Synced data (API.md "Synced data"): contacts and donations of the caller's account.

Every list answers JSON pages (keyset, app/api/pagination.py) or, with `Accept: text/csv`, all its pages
as one streamed CSV document with the same filters (app/api/csv_export.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Row

from app.api.csv_export import CSV_RESPONSE
from app.api.data_schemas import ContactOut, ContactPage, DonationOut, DonationPage
from app.api.deps import PrincipalDep, RuntimeDep, SessionDep
from app.api.list_responses import ListKind
from app.api.pagination import Cursor, Limit
from app.api.schemas import error_responses
from app.db.models import Contact, Donation
from app.db.repositories import synced_data
from app.db.repositories.synced_data import DonationRow
from app.errors import NotFoundError, UnprocessableError

router = APIRouter(prefix="/api/v1")  # tags per route: contacts, donations (the operation ids' prefixes)

MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
UpdatedSince = Annotated[datetime | None, Query(description="Only records updated at or after this time.")]
IncludeDeleted = Annotated[
    bool, Query(description="Also list records Classy no longer has (they carry a deleted_at).")
]
ContactFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this contact's records.")]
LIST_RESPONSES = {**error_responses(401, 422), **CSV_RESPONSE}


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


def contact_item(row: Row[Any]) -> ContactOut:
    contact: Contact = row[0]
    return ContactOut.of(contact)


def donation_out(row: DonationRow) -> DonationOut:
    """A donation as the API shows it (JSON, CSV and the change feed alike)."""
    return DonationOut.of(
        row.donation,
        row.campaign_name,
        row.designation_name,
        row.fundraising_page_title,
        row.fundraising_team_name,
    )


def donation_item(row: Row[Any]) -> DonationOut:
    return donation_out(synced_data.donation_row(row))


CONTACTS = ListKind(Contact.id, ContactOut, contact_item, ContactPage, "contacts", "contact")
DONATIONS = ListKind(Donation.id, DonationOut, donation_item, DonationPage, "donations", "donation")


@router.get("/contacts", tags=["contacts"], response_model=ContactPage, responses=LIST_RESPONSES)
async def list_contacts(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    email: Annotated[str | None, Query(description="Exact email, case-insensitive.")] = None,
    updated_since: UpdatedSince = None,
    include_deleted: IncludeDeleted = False,
) -> ContactPage | StreamingResponse:
    """Contacts of your account, oldest first."""
    query = synced_data.contacts_query(
        principal.account, email=email, updated_since=_utc(updated_since), include_deleted=include_deleted
    )
    return await CONTACTS.respond(request, runtime, session, query, cursor=cursor, limit=limit)


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


@router.get("/donations", tags=["donations"], response_model=DonationPage, responses=LIST_RESPONSES)
async def list_donations(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    contact_id: ContactFilter = None,
    status: Annotated[str | None, Query(description="Classy status, e.g. success or refunded.")] = None,
    updated_since: UpdatedSince = None,
    classy_recurring_plan_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this recurring plan's payments.")
    ] = None,
    include_deleted: IncludeDeleted = False,
) -> DonationPage | StreamingResponse:
    """Donations (every Classy transaction, whatever its status) of your account, oldest first."""
    query = synced_data.donations_query(
        principal.account,
        contact_id=contact_id,
        status=status,
        updated_since=_utc(updated_since),
        classy_recurring_plan_id=classy_recurring_plan_id,
        include_deleted=include_deleted,
    )
    return await DONATIONS.respond(request, runtime, session, query, cursor=cursor, limit=limit)


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
    return donation_out(row)
