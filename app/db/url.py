"""Which database the service uses: `DATABASE_URL`, or the embedded one when it is unset."""

from __future__ import annotations

from app.db.embedded import embedded_database_url
from app.db.session import normalize_database_url
from app.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set (never starting an embedded server), else the embedded Postgres."""
    if settings.database_url:
        return normalize_database_url(settings.database_url)
    return embedded_database_url(settings.data_dir)
