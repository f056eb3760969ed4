"""Campaigns, recurring plans and registrations of the caller's account (API.md "Synced data").

Same conventions as contacts and donations (app/api/data.py): keyset pages, tenant scoping (another
account's rows never show; their ids answer 404), and `Accept: text/csv` for the whole filtered list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Row

from app.api.data import LIST_RESPONSES, MAX_ID, ContactFilter, IncludeDeleted, RowId
from app.api.deps import PrincipalDep, RuntimeDep, SessionDep
from app.api.list_responses import ListKind
from app.api.list_schemas import (
    CampaignOut,
    CampaignPage,
    RecurringPlanOut,
    RecurringPlanPage,
    RegistrationOut,
    RegistrationPage,
)
from app.api.pagination import Cursor, Limit
from app.api.schemas import error_responses
from app.db.models import Campaign, RecurringPlan, Registration
from app.db.repositories import synced_data

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


CAMPAIGNS = ListKind(Campaign.id, CampaignOut, campaign_item, CampaignPage, "campaigns", "campaign")
RECURRING_PLANS = ListKind(
    RecurringPlan.id, RecurringPlanOut, plan_item, RecurringPlanPage, "recurring-plans", "recurring plan"
)
REGISTRATIONS = ListKind(
    Registration.id, RegistrationOut, registration_item, RegistrationPage, "registrations", "registration"
)


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
    return await CAMPAIGNS.respond(request, runtime, session, query, cursor=cursor, limit=limit)


@router.get(
    "/campaigns/{campaign_id}", tags=["campaigns"], response_model=CampaignOut, responses=ONE_RESPONSES
)
async def get_campaign(campaign_id: RowId, principal: PrincipalDep, session: SessionDep) -> CampaignOut:
    """One campaign."""
    return await CAMPAIGNS.one(session, synced_data.campaigns_query(principal.account), campaign_id)


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
    return await RECURRING_PLANS.respond(request, runtime, session, query, cursor=cursor, limit=limit)


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
    return await RECURRING_PLANS.one(session, query, plan_id)


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
    return await REGISTRATIONS.respond(request, runtime, session, query, cursor=cursor, limit=limit)


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
    return await REGISTRATIONS.one(session, query, registration_id)
