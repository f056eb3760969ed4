"""Which mode a run takes, when the scheduled reconcile is due, and the id walk's order check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db.models import Integration
from app.settings import Settings
from app.sync.reconcile import _ordered_ids, reconcile_due_at, run_mode
from app.sync.window import UnorderedPageError

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SETTINGS = Settings(_env_file=None, APP_ENV="test", RECONCILE_INTERVAL_SECONDS=3600)  # type: ignore[call-arg]


def _integration(**values: object) -> Integration:
    integration = Integration(account="acme", app_slug="classy", status="connected")
    integration.connected_at = NOW - timedelta(days=3)
    for name, value in values.items():
        setattr(integration, name, value)
    return integration


def test_a_requested_mode_wins() -> None:
    for mode in ("incremental", "reconcile", "full"):
        assert run_mode(_integration(sync_requested_mode=mode), "manual", SETTINGS, now=NOW) == mode


def test_a_scheduled_run_reconciles_once_the_interval_has_passed() -> None:
    recent = _integration(last_reconciled_at=NOW - timedelta(minutes=59))
    assert run_mode(recent, "scheduled", SETTINGS, now=NOW) == "incremental"
    due = _integration(last_reconciled_at=NOW - timedelta(minutes=60))
    assert run_mode(due, "scheduled", SETTINGS, now=NOW) == "reconcile"
    # Other triggers (webhook, resume, …) stay incremental; the scheduled run after them reconciles.
    assert run_mode(due, "webhook", SETTINGS, now=NOW) == "incremental"


def test_the_first_reconcile_is_counted_from_the_connection() -> None:
    fresh = _integration(connected_at=NOW - timedelta(minutes=5))
    assert reconcile_due_at(fresh, SETTINGS) == NOW + timedelta(minutes=55)
    assert run_mode(fresh, "scheduled", SETTINGS, now=NOW) == "incremental"
    assert reconcile_due_at(fresh, SETTINGS, reconciled_at=NOW) == NOW + timedelta(hours=1)
    assert reconcile_due_at(_integration(connected_at=None), SETTINGS) is None


def test_the_id_walk_refuses_pages_out_of_order() -> None:
    assert _ordered_ids([{"id": 5}, {"id": "x"}, {"id": 9}, {"id": True}], after=4) == [5, 9]
    with pytest.raises(UnorderedPageError):
        _ordered_ids([{"id": 4}], after=4)  # the server ignored filter=id>4
    with pytest.raises(UnorderedPageError):
        _ordered_ids([{"id": 7}, {"id": 6}], after=0)  # the server ignored sort=id:asc
