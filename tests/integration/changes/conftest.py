"""Two sandbox organizations of a few hundred records each, for tenants syncing at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig

SIZES = Sizes(supporters=300, transactions=700, registrations=80, campaigns=4, plans=30)


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(SandboxConfig(seed=13, organizations=2, sizes=SIZES, rate_limit=0)) as handle:
        yield handle
