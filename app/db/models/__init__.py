"""All ORM models; importing this package registers every table on `Base.metadata` (for Alembic)."""

from app.db.models.audit import AuditEvent
from app.db.models.change_log import ChangeLog
from app.db.models.classy_records import (
    Campaign,
    Designation,
    Donation,
    FundraisingPage,
    FundraisingTeam,
    RecurringPlan,
    Registration,
    Supporter,
)
from app.db.models.contact import Contact, ContactRefresh
from app.db.models.integration import Credential, Integration, IntegrationStatus, OAuthState
from app.db.models.missing import MissingSupporter
from app.db.models.rejected import RejectedRecord
from app.db.models.sync import SyncCursor, SyncRun
from app.db.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AuditEvent",
    "Campaign",
    "ChangeLog",
    "Contact",
    "ContactRefresh",
    "Credential",
    "Designation",
    "Donation",
    "FundraisingPage",
    "FundraisingTeam",
    "Integration",
    "IntegrationStatus",
    "MissingSupporter",
    "OAuthState",
    "RecurringPlan",
    "Registration",
    "RejectedRecord",
    "Supporter",
    "SyncCursor",
    "SyncRun",
    "WebhookDelivery",
    "WebhookEndpoint",
]
