"""The sandbox's webhook deliveries: Svix-signed (checked with the standardwebhooks library), one per
mutation of supporters, transactions and plans, retried on failure a bounded number of times."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from sandbox.store import SandboxConfig, SandboxStore
from sandbox.webhooks import RETRY_DELAYS, new_secret

SECRET = new_secret()


class Receiver:
    """A loopback HTTP server that answers each POST with the next status of `statuses`."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    started: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        receiver = Receiver(statuses)
        receiver.thread.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def store() -> Iterator[SandboxStore]:
    store = SandboxStore(SandboxConfig(organizations=2))
    yield store
    store.webhooks.close()


def _wait(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_each_mutation_is_delivered_signed_to_the_endpoints_of_its_organization(
    store: SandboxStore, receiver_factory: Any
) -> None:
    receiver = receiver_factory([204])
    first, second = list(store.orgs)
    store.webhooks.register(receiver.url, SECRET, [first])
    tx = store.create(first, "transactions", {})
    store.refund(first, tx["id"])
    supporter = store.create(first, "supporters", {})
    plan = store.create(first, "recurring-donation-plans", {})
    store.update(first, "recurring-donation-plans", plan["id"], {"status": "canceled"})
    store.create(first, "campaigns", {})  # Classy has no campaign events
    store.create(second, "transactions", {})  # another organization
    _wait(lambda: len(receiver.received) == 5)
    time.sleep(0.2)
    assert len(receiver.received) == 5
    events = []
    for headers, body in receiver.received:
        Webhook(SECRET).verify(
            body,
            {
                "webhook-id": headers["svix-id"],
                "webhook-timestamp": headers["svix-timestamp"],
                "webhook-signature": headers["svix-signature"],
            },
            json_parse=False,
        )
        payload = orjson.loads(body)
        events.append((payload["type"], payload["data"]["id"]))
    assert sorted(events) == sorted(
        [
            ("transaction.created", tx["id"]),
            ("transaction.updated", tx["id"]),
            ("supporter.created", supporter["id"]),
            ("recurring_donation_plan.created", plan["id"]),
            ("recurring_donation_plan.updated", plan["id"]),
        ]
    )
    assert len({headers["svix-id"] for headers, _ in receiver.received}) == 5


def test_failed_deliveries_are_retried_with_the_same_id_then_given_up(
    store: SandboxStore, receiver_factory: Any
) -> None:
    flaky = receiver_factory([500, 503, 204])
    endpoint = store.webhooks.register(flaky.url, SECRET)
    store.create(next(iter(store.orgs)), "supporters", {})
    _wait(lambda: endpoint.delivered == 1)
    assert [entry["status"] for entry in store.webhooks.log] == [500, 503, 204]
    assert len({headers["svix-id"] for headers, _ in flaky.received}) == 1

    store.webhooks.clear()
    down = receiver_factory([500])
    endpoint = store.webhooks.register(down.url, SECRET)
    store.create(next(iter(store.orgs)), "transactions", {})
    _wait(lambda: endpoint.failed == 1, timeout=sum(RETRY_DELAYS) + 10)
    assert endpoint.attempts == len(RETRY_DELAYS) + 1 == len(down.received)
    assert endpoint.delivered == 0
