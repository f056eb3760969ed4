"""Svix-style webhook deliveries, as Classy sends them: signed, retried, one message per mutation.

Classy delivers `supporter.*`, `transaction.*` and `recurring_donation_plan.*` events (`created`,
`updated`) through Svix; nothing for campaigns, registrations or deletions. Each message is POSTed
as JSON with `svix-id`, `svix-timestamp` and `svix-signature` (`v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}" under the base64 key after "whsec_">`). The signing is written out here,
independently of the service's verifying library, so the two check each other.

A delivery that fails (no 2xx, or no answer in 15 s) is retried after 0.5, 1, 2 and 4 s, then given up
(real Svix keeps trying for days). Deliveries run on a small thread pool, off the server's loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from sandbox.timefmt import format_ts, now_epoch

EVENT_NAMES = {
    "supporters": "supporter",
    "transactions": "transaction",
    "recurring-donation-plans": "recurring_donation_plan",
}
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT_SECONDS = 15.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `svix-signature` header value for a message."""
    encoded = secret.removeprefix("whsec_")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def new_secret() -> str:
    """A signing secret shaped like Svix's (whsec_ + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode()


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str = field(repr=False)
    organization_ids: set[int] | None = None
    delivered: int = 0
    failed: int = 0
    attempts: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "organization_ids": sorted(self.organization_ids) if self.organization_ids is not None else None,
            "delivered": self.delivered,
            "failed": self.failed,
            "attempts": self.attempts,
        }


class WebhookDispatcher:
    """Registered endpoints and the deliveries to them (thread-safe; retries bounded)."""

    def __init__(self, workers: int = 4) -> None:
        self.lock = threading.Lock()
        self.endpoints: dict[str, Endpoint] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=1000)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        self._closing = threading.Event()

    def register(self, url: str, secret: str, organization_ids: list[int] | None = None) -> Endpoint:
        endpoint = Endpoint(
            "ep_" + uuid.uuid4().hex[:16], url, secret, set(organization_ids) if organization_ids else None
        )
        with self.lock:
            self.endpoints[endpoint.id] = endpoint
        return endpoint

    def remove(self, endpoint_id: str) -> bool:
        with self.lock:
            return self.endpoints.pop(endpoint_id, None) is not None

    def clear(self) -> None:
        with self.lock:
            self.endpoints.clear()
            self.log.clear()

    def emit(self, org_id: int, resource: str, action: str, record_id: int) -> int:
        """Queue `<event>.<action>` for every endpoint of the organization; returns how many."""
        name = EVENT_NAMES.get(resource)
        if name is None:
            return 0
        with self.lock:
            targets = [
                e
                for e in self.endpoints.values()
                if e.organization_ids is None or org_id in e.organization_ids
            ]
        for endpoint in targets:
            self.send(endpoint, f"{name}.{action}", {"id": record_id, "organization_id": org_id})
        return len(targets)

    def send(self, endpoint: Endpoint, event_type: str, data: dict[str, Any]) -> str:
        """Queue one message to one endpoint; returns its id (`svix-id`)."""
        message_id = "msg_" + uuid.uuid4().hex
        body = orjson.dumps({"type": event_type, "timestamp": format_ts(now_epoch()), "data": data})
        self._executor().submit(self._deliver, endpoint, message_id, event_type, body)
        return message_id

    def _executor(self) -> ThreadPoolExecutor:
        with self.lock:
            if self._pool is None:
                self._closing.clear()
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="sandbox-webhook")
                self._client = httpx.Client(timeout=TIMEOUT_SECONDS)
            return self._pool

    def _deliver(self, endpoint: Endpoint, message_id: str, event_type: str, body: bytes) -> None:
        client = self._client
        assert client is not None
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS), start=1):
            if delay and self._closing.wait(delay):
                return
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "svix-id": message_id,
                "svix-timestamp": str(timestamp),
                "svix-signature": sign(endpoint.secret, message_id, timestamp, body),
            }
            started = time.time()
            try:
                status: int | None = client.post(endpoint.url, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            ok = status is not None and 200 <= status < 300
            with self.lock:
                endpoint.attempts += 1
                self.log.append(
                    {
                        "endpoint_id": endpoint.id,
                        "message_id": message_id,
                        "type": event_type,
                        "attempt": attempt,
                        "status": status,
                        "sent_at": started,
                    }
                )
                if ok:
                    endpoint.delivered += 1
                elif attempt == len(RETRY_DELAYS) + 1:
                    endpoint.failed += 1
            if ok:
                return

    def close(self) -> None:
        """Stop delivering (pending retries are dropped); bounded by the request timeout."""
        self._closing.set()
        with self.lock:
            pool, client = self._pool, self._client
            self._pool = self._client = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()
