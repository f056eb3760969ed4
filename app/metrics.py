"""Prometheus metrics. Labels never carry secrets or per-record values (bounded cardinality)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
