"""Checkpoints saved while another commit runs go in together with the next one, never lost or early."""

from __future__ import annotations

import asyncio

import pytest

from app.sync.group_commit import GroupCommit


async def test_saves_arriving_during_a_commit_share_the_next_one() -> None:
    commits: list[dict[str, int]] = []
    release = asyncio.Event()

    async def commit(items: dict[str, int]) -> None:
        commits.append(dict(items))
        if len(commits) == 1:
            await release.wait()  # a slow first commit: the others arrive meanwhile

    group: GroupCommit[int] = GroupCommit(commit)
    first = asyncio.ensure_future(group.save("a", 1))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(group.save(k, v)) for k, v in (("b", 2), ("c", 3), ("d", 4))]
    await asyncio.sleep(0.01)
    assert commits == [{"a": 1}]  # b, c, d wait: their saves have not returned
    assert not any(task.done() for task in [first, *others])
    release.set()
    await asyncio.gather(first, *others)
    assert commits == [{"a": 1}, {"b": 2, "c": 3, "d": 4}]


async def test_every_save_waiting_on_a_failed_commit_raises_its_error() -> None:
    release = asyncio.Event()
    calls = 0

    async def commit(items: dict[str, int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()
            return
        raise RuntimeError("lease lost")

    group: GroupCommit[int] = GroupCommit(commit)
    first = asyncio.ensure_future(group.save("a", 1))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(group.save(k, 0)) for k in ("b", "c")]
    await asyncio.sleep(0)
    release.set()
    await first
    for task in others:
        with pytest.raises(RuntimeError, match="lease lost"):
            await task
    assert calls == 2  # b and c were one commit, and neither was committed


async def test_a_save_alone_commits_at_once() -> None:
    commits: list[dict[str, int]] = []

    async def commit(items: dict[str, int]) -> None:
        commits.append(dict(items))

    group: GroupCommit[int] = GroupCommit(commit)
    await group.save("a", 1)
    await group.save("a", 2)
    assert commits == [{"a": 1}, {"a": 2}]
