"""What the lifecycle needs from the sync scheduler: wake it, or stop one integration's running sync.

A protocol, so the services layer does not import the scheduler (the sync layer beside it): the
scheduler of this process satisfies it, and a test can pass anything with these two methods.
"""

from __future__ import annotations

from typing import Protocol


class SyncSignals(Protocol):
    def wake(self) -> None:
        """Look for due work now (a lifecycle change just asked for a sync)."""

    def request_stop(self, integration_id: int) -> None:
        """Stop this integration's sync running in this process before its next request to Classy."""
