"""A Classy sandbox on loopback for the lifecycle tests (one server, reset before each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.generate import Sizes
from sandbox.server import SandboxHandle, run_sandbox
from sandbox.store import SandboxConfig


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[SandboxHandle]:
    tiny = Sizes(supporters=5, transactions=5, registrations=2, campaigns=1, plans=1)
    with run_sandbox(SandboxConfig(sizes=tiny)) as handle:
        yield handle


@pytest.fixture
def sandbox(_sandbox_server: SandboxHandle) -> SandboxHandle:
    """The running sandbox, freshly reset (apps, members, tokens, data)."""
    assert _sandbox_server.store is not None
    _sandbox_server.store.reset()
    return _sandbox_server
