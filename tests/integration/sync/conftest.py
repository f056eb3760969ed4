"""A fresh Classy sandbox for each sync test (small organizations; thread-served on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig

SMALL = Sizes(supporters=300, transactions=900, registrations=120, campaigns=4, plans=30)


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(SandboxConfig(seed=7, organizations=2, sizes=SMALL, rate_limit=0)) as handle:
        yield handle
