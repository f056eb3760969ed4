"""Noticing that the database lost commits it had acknowledged, before a checkpoint moves past them.

A page's rows and its checkpoint commit together, so a crash loses both or neither. That alone does not
protect a sync that carries on: its reader holds its position in memory, and if the database came back
without the last acknowledged commits (a crash with `synchronous_commit = off`, a failover to a replica
that had not received them), the next checkpoint it writes would be past rows that are not there, for
good. Pooled connections are replaced silently (pre-ping), so "the connection broke" cannot be relied
on to notice.

So every sync transaction increments the integration's `sync_commits` with its lease renewal, and the
run remembers the highest value it was told committed. Seeing a lower value means commits were lost:
the run stops with `CommitsLost` (its transaction rolls back) and the next run resumes from the
checkpoint Postgres actually holds. This holds whatever the durability settings are.

Only a commit Postgres acknowledged raises what the run knows. A transaction that rolls back (a pause
seen by its own lease renewal, a cancelled write) takes its increment with it, and other streams'
transactions then rightly see the lower value: counting it on sight made a pause read as lost commits
and the run end `failed` instead of `cancelled`.
"""

from __future__ import annotations

COMMITS_LOST = (
    "The database lost its most recent sync commits (it crashed or failed over); the sync stopped "
    "and the next run resumes from the checkpoint the database kept."
)


class CommitsLost(Exception):
    """The database holds fewer of this run's commits than it acknowledged."""

    def __init__(self) -> None:
        super().__init__(COMMITS_LOST)


class CommitLedger:
    """The highest commit counter this run has seen; transactions that see less stop the run."""

    def __init__(self, committed: int) -> None:
        self.known = committed

    def check(self, counter: int) -> None:
        """`counter` is the value after this transaction's own increment; raise if commits are missing.

        Concurrent streams each add one: the database's value only grows while nothing is lost, so any
        transaction sees at least what any acknowledged one left.
        """
        if counter - 1 < self.known:
            raise CommitsLost()

    def committed(self, counter: int) -> None:
        """The transaction that saw `counter` committed: from now on the database must hold it."""
        self.known = max(self.known, counter)

    def lost(self, counter: int) -> bool:
        """Whether the database's current `counter` misses commits this run was told were made."""
        return counter < self.known
