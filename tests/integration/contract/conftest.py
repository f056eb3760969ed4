"""Contract tests: the service driven as an outside integrator would, against the Classy sandbox."""

from __future__ import annotations

from tests.integration.api.conftest import _sandbox_server, sandbox

__all__ = ["_sandbox_server", "sandbox"]
