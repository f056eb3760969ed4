"""Webhook settings and delivery checks, in-process (scheduler off: the database shows what each did)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Integration, SyncRun, WebhookDelivery, WebhookEndpoint
from app.metrics import WEBHOOK_DELIVERIES
from sandbox.server import SandboxHandle
from tests.conftest import bearer
from tests.integration.sync.helpers import connect, service, sync_settings
from tests.integration.webhooks.conftest import SECRET, event, signed, webhook_path

ADMIN = bearer("acme", "alice", "admin", name="Alice Admin")
MEMBER = bearer("acme", "mary", "member")
OTHER = bearer("globex", "gus", "admin")


async def _state(session: AsyncSession) -> tuple[Any, ...]:
    session.expire_all()
    row = (await session.execute(select(Integration).where(Integration.account == "acme"))).scalar_one()
    runs = await session.scalar(select(func.count()).select_from(SyncRun))
    return (row.next_sync_at, row.sync_requested_trigger, row.version, runs)


def _count(outcome: str) -> float:
    return WEBHOOK_DELIVERIES.labels(outcome)._value.get()


async def test_settings_validate_store_encrypted_and_never_return_the_secret(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    settings = sync_settings(database_url, sandbox, SCHEDULER_ENABLED=False, PUBLIC_URL="https://crm.example")
    async with service(settings) as client:
        none = await client.put("/api/v1/apps/classy/webhook", headers=ADMIN, json={"secret": SECRET})
        assert none.status_code == 409 and none.json()["code"] == "invalid_state"
        await connect(client, sandbox, sandbox.organization_ids[0])
        assert (await client.get("/api/v1/apps/classy/webhook", headers=OTHER)).status_code == 404
        # The URL comes first (Classy shows the signing secret once the endpoint is created there).
        first = await client.get("/api/v1/apps/classy/webhook", headers=MEMBER)
        assert first.status_code == 200 and first.json()["configured"] is False
        assert first.json()["configured_at"] is None and first.json()["last_event_at"] is None
        early = "/" + first.json()["url"].split("/", 3)[3]
        unverifiable = await client.post(early, content=event(), headers=signed(event()))
        assert unverifiable.status_code == 401 and unverifiable.json()["code"] == "webhook_not_configured"
        for bad in ("", "secret", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ=", "whsec_" + "A" * 400):
            answer = await client.put("/api/v1/apps/classy/webhook", headers=ADMIN, json={"secret": bad})
            assert answer.status_code == 422, bad
            assert answer.json()["detail"].endswith(".")
            assert len(bad) < 7 or bad[6:] not in answer.text  # the rejected value is not echoed
        forbidden = await client.put("/api/v1/apps/classy/webhook", headers=MEMBER, json={"secret": SECRET})
        assert forbidden.status_code == 403

        saved = await client.put("/api/v1/apps/classy/webhook", headers=ADMIN, json={"secret": SECRET})
        assert saved.status_code == 200
        body = saved.json()
        assert body["url"] == first.json()["url"]
        assert body["url"].startswith("https://crm.example/webhooks/classy/")
        assert body["configured"] is True
        assert body["configured_by"] == "alice" and body["last_event_at"] is None
        assert SECRET not in saved.text
        shown = await client.get("/api/v1/apps/classy/webhook", headers=MEMBER)
        assert shown.status_code == 200 and shown.json()["url"] == body["url"] and SECRET not in shown.text

        row = (await session.execute(select(WebhookEndpoint))).scalar_one()
        assert (
            SECRET.encode() not in row.secret_ciphertext and SECRET[6:].encode() not in row.secret_ciphertext
        )
        assert row.secret_key_id == "k2"

        # A new secret keeps the URL that was pasted into Classy.
        other_secret = "whsec_" + "B" * 32
        again = await client.put("/api/v1/apps/classy/webhook", headers=ADMIN, json={"secret": other_secret})
        assert again.json()["url"] == body["url"]
        events = (await client.get("/api/v1/apps/classy/events", headers=ADMIN)).json()["items"]
        assert [e["action"] for e in events[:2]] == ["webhook_configured", "webhook_configured"]
        assert SECRET not in str(events) and other_secret not in str(events)

        assert (await client.delete("/api/v1/apps/classy/webhook", headers=MEMBER)).status_code == 403
        assert (await client.delete("/api/v1/apps/classy/webhook", headers=ADMIN)).status_code == 204
        path = "/" + body["url"].split("/", 3)[3]
        gone = await client.post(path, content=event(), headers=signed(event(), secret=other_secret))
        assert gone.status_code == 404 and gone.json()["code"] == "not_found"
        assert (await client.delete("/api/v1/apps/classy/webhook", headers=ADMIN)).status_code == 404
        fresh = (await client.get("/api/v1/apps/classy/webhook", headers=ADMIN)).json()
        assert fresh["url"] != body["url"] and fresh["configured"] is False


async def test_forged_stale_replayed_oversized_and_paused_deliveries_change_nothing(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    settings = sync_settings(database_url, sandbox, SCHEDULER_ENABLED=False)
    async with service(settings) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        # As if the first sync had run: the next one is an hour away.
        hour_away = (
            "UPDATE integration SET next_sync_at = now() + interval '1 hour', sync_requested_trigger = NULL"
        )
        await session.execute(text(hour_away))
        await session.commit()
        path = await webhook_path(client, ADMIN)
        before = await _state(session)
        body = event()

        async def post(content: bytes, headers: dict[str, str]) -> httpx.Response:
            return await client.post(path, content=content, headers=headers)

        counts = {k: _count(k) for k in ("bad_signature", "stale", "unknown_endpoint")}
        wrong_key = signed(body, secret="whsec_" + "C" * 32)
        assert (await post(body, wrong_key)).status_code == 401
        tampered = signed(body)
        assert (await post(body + b" ", tampered)).status_code == 401
        assert (await post(body, {"content-type": "application/json"})).status_code == 401
        garbled = {**signed(body), "svix-signature": "v1"}
        assert (await post(body, garbled)).status_code == 401
        not_time = {**signed(body), "svix-timestamp": "soon"}
        assert (await post(body, not_time)).status_code == 401
        stale = await post(body, signed(body, timestamp=int(time.time()) - 301))
        assert stale.status_code == 401 and stale.json()["code"] == "stale"
        future = await post(body, signed(body, timestamp=int(time.time()) + 301))
        assert future.status_code == 401
        big = b'{"type": "transaction.created", "pad": "' + b"x" * (1024 * 1024) + b'"}'
        oversized = await post(big, signed(big))
        assert oversized.status_code == 413 and oversized.json()["code"] == "request_too_large"
        unknown = await client.post("/webhooks/classy/nope", content=body, headers=signed(body))
        assert unknown.status_code == 404
        assert _count("bad_signature") - counts["bad_signature"] == 5
        assert _count("stale") - counts["stale"] == 2
        assert _count("unknown_endpoint") - counts["unknown_endpoint"] == 1
        assert await _state(session) == before
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0

        # A good delivery (signed and under 1 MB, however large) requests a run; the same svix-id again
        # is handled once.
        body = b'{"type": "transaction.created", "pad": "' + b"x" * 300_000 + b'"}'
        good = signed(body, message_id="msg_good")
        assert (await post(body, good)).status_code == 204
        after = await _state(session)
        assert after[1] == "webhook" and after[2] == before[2] + 1
        assert after[0] < before[0]
        assert (await post(body, good)).status_code == 204
        assert await _state(session) == after
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        shown = (await client.get("/api/v1/apps/classy/webhook", headers=ADMIN)).json()
        assert shown["last_event_at"] is not None

        # Paused: deliveries are verified and acknowledged, and ignored.
        assert (await client.post("/api/v1/apps/classy/pause", headers=ADMIN)).status_code == 200
        paused = await _state(session)
        response = await post(body, signed(body, message_id="msg_paused"))
        assert response.status_code == 204
        assert await _state(session) == paused
        outcome = await session.scalar(
            select(WebhookDelivery.outcome).where(WebhookDelivery.message_id == "msg_paused")
        )
        assert outcome == "ignored"

        # Disconnect erases the signing secret with the other secrets: the URL answers 404.
        assert (await client.post("/api/v1/apps/classy/disconnect", headers=ADMIN)).status_code == 200
        response = await post(body, signed(body, message_id="msg_disconnected"))
        assert response.status_code == 404
        assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


async def test_body_cap_holds_without_content_length(
    db: AsyncEngine, session: AsyncSession, database_url: str, sandbox: SandboxHandle
) -> None:
    settings = sync_settings(database_url, sandbox, SCHEDULER_ENABLED=False)
    async with service(settings) as client:
        await connect(client, sandbox, sandbox.organization_ids[0])
        path = await webhook_path(client, ADMIN)
        sent = 0

        async def chunks():  # type: ignore[no-untyped-def]
            nonlocal sent
            for _ in range(64):  # 4 MB offered, 64 KB at a time
                sent += 1
                yield b"x" * 65536

        headers = signed(b"whatever")
        response = await client.post(path, content=chunks(), headers=headers)
        assert response.status_code == 413
        assert sent < 64  # refused while reading, not after buffering everything
