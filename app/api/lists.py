"""Campaigns, recurring plans and registrations of the caller's account (API.md "Synced data").

Same conventions as contacts and donations (app/api/data.py): keyset pages, tenant scoping (another
account's rows never show; their ids answer 404), and `Accept: text/csv` for the whole filtered list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Row

from app.api.csv_export import csv_response, wants_csv
from app.api.data import LIST_RESPONSES, MAX_ID, ContactFilter, IncludeDeleted, RowId
from app.api.deps import PrincipalDep, RuntimeDep, SessionDep
from app.api.list_schemas import (
    CampaignOut,
    CampaignPage,
    RecurringPlanOut,
    RecurringPlanPage,
    RegistrationOut,
    RegistrationPage,
)
from app.api.pagination import Cursor, Limit, build_page, decode_cursor
from app.api.schemas import error_responses
from app.db.models import Campaign, RecurringPlan, Registration
from app.db.repositories import synced_data
from app.errors import NotFoundError

router = APIRouter(prefix="/api/v1")  # tags per route (the operation ids' prefixes, app/api/openapi.py)

ONE_RESPONSES = error_responses(401, 404, 422)
Status = Annotated[str | None, Query(description="Classy's status value.")]


def campaign_item(row: Row[Any]) -> CampaignOut:
    campaign: Campaign = row[0]
    return CampaignOut.of(campaign)


def plan_item(row: Row[Any]) -> RecurringPlanOut:
    return RecurringPlanOut.of(synced_data.plan_row(row))


def registration_item(row: Row[Any]) -> RegistrationOut:
    return RegistrationOut.of(synced_data.registration_row(row))


@router.get("/campaigns", tags=["campaigns"], response_model=CampaignPage, responses=LIST_RESPONSES)
async def list_campaigns(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    include_deleted: IncludeDeleted = False,
) -> CampaignPage | StreamingResponse:
    """Campaigns of your account, oldest first."""
    query = synced_data.campaigns_query(principal.account, include_deleted=include_deleted)
    if wants_csv(request):
        return csv_response(
            runtime.sessionmaker,
            query.order_by(Campaign.id),
            CampaignOut,
            campaign_item,
            filename="campaigns",
        )
    rows = await synced_data.fetch_page(
        session, query, Campaign.id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    page = build_page([campaign_item(r) for r in rows], limit, key=lambda c: c.id)
    return CampaignPage(items=list(page.items), next_cursor=page.next_cursor)


@router.get(
    "/campaigns/{campaign_id}", tags=["campaigns"], response_model=CampaignOut, responses=ONE_RESPONSES
)
async def get_campaign(campaign_id: RowId, principal: PrincipalDep, session: SessionDep) -> CampaignOut:
    """One campaign."""
    query = synced_data.campaigns_query(principal.account).where(Campaign.id == campaign_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFoundError(f"No campaign with id {campaign_id}.")
    return campaign_item(row)


@router.get(
    "/recurring-plans",
    name="list",
    tags=["recurring_plans"],
    response_model=RecurringPlanPage,
    responses=LIST_RESPONSES,
)
async def list_recurring_plans(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    contact_id: ContactFilter = None,
    status: Status = None,
    include_deleted: IncludeDeleted = False,
) -> RecurringPlanPage | StreamingResponse:
    """Recurring donation plans of your account, oldest first; each names its contact."""
    query = await synced_data.recurring_plans_query(
        session, principal.account, contact_id=contact_id, status=status, include_deleted=include_deleted
    )
    if wants_csv(request):
        return csv_response(
            runtime.sessionmaker,
            query.order_by(RecurringPlan.id),
            RecurringPlanOut,
            plan_item,
            filename="recurring-plans",
        )
    rows = await synced_data.fetch_page(
        session, query, RecurringPlan.id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    page = build_page([plan_item(r) for r in rows], limit, key=lambda p: p.id)
    return RecurringPlanPage(items=list(page.items), next_cursor=page.next_cursor)


@router.get(
    "/recurring-plans/{plan_id}",
    name="get",
    tags=["recurring_plans"],
    response_model=RecurringPlanOut,
    responses=ONE_RESPONSES,
)
async def get_recurring_plan(
    plan_id: RowId, principal: PrincipalDep, session: SessionDep
) -> RecurringPlanOut:
    """One recurring plan."""
    query = await synced_data.recurring_plans_query(session, principal.account)
    row = (await session.execute(query.where(RecurringPlan.id == plan_id))).first()
    if row is None:
        raise NotFoundError(f"No recurring plan with id {plan_id}.")
    return plan_item(row)


@router.get(
    "/registrations", tags=["registrations"], response_model=RegistrationPage, responses=LIST_RESPONSES
)
async def list_registrations(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    contact_id: ContactFilter = None,
    classy_campaign_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this Classy campaign's registrations.")
    ] = None,
    status: Status = None,
    include_deleted: IncludeDeleted = False,
) -> RegistrationPage | StreamingResponse:
    """Event registrations of your account, oldest first; each names its contact."""
    query = await synced_data.registrations_query(
        session,
        principal.account,
        contact_id=contact_id,
        classy_campaign_id=classy_campaign_id,
        status=status,
        include_deleted=include_deleted,
    )
    if wants_csv(request):
        return csv_response(
            runtime.sessionmaker,
            query.order_by(Registration.id),
            RegistrationOut,
            registration_item,
            filename="registrations",
        )
    rows = await synced_data.fetch_page(
        session, query, Registration.id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    page = build_page([registration_item(r) for r in rows], limit, key=lambda r: r.id)
    return RegistrationPage(items=list(page.items), next_cursor=page.next_cursor)


@router.get(
    "/registrations/{registration_id}",
    tags=["registrations"],
    response_model=RegistrationOut,
    responses=ONE_RESPONSES,
)
async def get_registration(
    registration_id: RowId, principal: PrincipalDep, session: SessionDep
) -> RegistrationOut:
    """One registration."""
    query = await synced_data.registrations_query(session, principal.account)
    row = (await session.execute(query.where(Registration.id == registration_id))).first()
    if row is None:
        raise NotFoundError(f"No registration with id {registration_id}.")
    return registration_item(row)
