"""Prometheus metrics. Labels never carry secrets or per-record values (bounded cardinality)."""

from __future__ import annotations

import importlib.metadata
import os

from prometheus_client import Counter, Gauge, Histogram, Info

HTTP_REQUESTS = Counter(
    "classy_sync_http_requests_total", "API requests served", ["method", "route", "status"]
)
SYNC_RECORDS = Counter("classy_sync_records_total", "Records synced from Classy", ["stream", "outcome"])
SYNC_PAGES = Counter("classy_sync_pages_total", "Pages read from Classy", ["stream"])
SYNC_PHASE_SECONDS = Counter(
    "classy_sync_phase_seconds_total",
    "Seconds syncs spent per phase: fetch (Classy request and parse), write (page upsert), "
    "contacts (contact merge and donation linking), checkpoint (lease, cursor, run counts, commit)",
    ["stream", "phase"],
)
SYNC_RETRIES = Counter("classy_sync_classy_retries_total", "Classy requests retried")
SYNC_RUNS = Counter("classy_sync_runs_total", "Sync runs finished", ["trigger", "status"])
SYNC_RUN_SECONDS = Histogram(
    "classy_sync_run_seconds",
    "Duration of sync runs",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 14400),
)
SYNC_RUNNING = Gauge("classy_sync_runs_in_progress", "Sync runs in progress in this process")
SCHEDULER_TICKS = Counter("classy_sync_scheduler_ticks_total", "Scheduler loop iterations")

# --- Operations (issue 13): latency, errors, pacing, freshness, build -------------------------------
HTTP_LATENCY = Histogram(
    "classy_sync_http_request_duration_seconds",
    "Time to serve an HTTP request, to the end of its response",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SYNC_OLDEST_SUCCESS_AGE = Gauge(
    "classy_sync_oldest_successful_sync_age_seconds",
    "Max over connected integrations of the seconds since its last successful sync (since it was "
    "connected, if it never had one); 0 when none is connected. Alert when it exceeds a few intervals.",
)
INTEGRATIONS = Gauge("classy_sync_integrations", "Integrations by status (all accounts)", ["status"])
BUILD_INFO = Info("classy_sync_build", "The running build: package version and source commit")


def record_build_info() -> None:
    """Version from the installed package; commit from `BUILD_COMMIT` (a Docker build argument)."""
    try:
        version = importlib.metadata.version("classy-sync")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    BUILD_INFO.info({"version": version, "commit": os.environ.get("BUILD_COMMIT", "unknown")})


WEBHOOK_DELIVERIES = Counter(
    "classy_sync_webhook_deliveries_total",
    "Classy webhook deliveries by outcome: sync_requested, ignored (paused, disconnected, backing off), "
    "duplicate, bad_signature, stale, no_secret (none saved yet), unknown_endpoint",
    ["outcome"],
)
WEBHOOK_TO_API_SECONDS = Histogram(
    "classy_sync_webhook_to_api_seconds",
    "Seconds from a webhook delivery to the end of the sync run that served it (the change is in the API)",
    buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 300),
)
