"""Request bodies over 1 MB are refused with a 413 while they are read, before anything parses them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import bearer
from tests.integration.sync.processes import ServiceProcess

SAVE = "/api/v1/apps/classy/credentials"
CHUNK = b"x" * 65_536
MB = 1024 * 1024


class CountingBody:
    """A chunked request body (no Content-Length) that records how much of it was read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += len(CHUNK)
            yield CHUNK


def assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "request_too_large"
    assert "larger than the 1048576 bytes" in body["detail"]


async def test_a_declared_2mb_body_is_refused_before_reading_or_authenticating(
    client: httpx.AsyncClient,
) -> None:
    body = CountingBody(2 * MB)
    # No bearer token and not JSON: neither the 401 nor the 400 comes first, because nothing was read.
    response = await client.put(SAVE, content=body, headers={"content-length": str(2 * MB)})
    assert_413(response)
    assert body.sent <= len(CHUNK), "the body was read although its length was declared too large"


async def test_a_chunked_2mb_body_is_cut_off_at_the_cap(client: httpx.AsyncClient) -> None:
    body = CountingBody(2 * MB)
    response = await client.put(SAVE, content=body, headers=bearer())
    assert_413(response)
    assert body.sent <= MB + 2 * len(CHUNK), f"read {body.sent} bytes of a body over the cap"


async def test_memory_stays_flat_whatever_the_size(client: httpx.AsyncClient) -> None:
    """64 MB streamed at the service: refused after about 1 MB, so memory grows by far less than that."""
    await client.get("/healthz")  # warm up the app's own one-time allocations
    body = CountingBody(64 * MB)
    tracemalloc.start()
    try:
        response = await client.put(SAVE, content=body, headers=bearer())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_413(response)
    assert body.sent < 2 * MB
    assert peak < 3 * MB, f"peak {peak / MB:.1f} MB while refusing a 64 MB body"


async def test_bodies_under_the_cap_still_work(client: httpx.AsyncClient) -> None:
    response = await client.put(SAVE, content=b"{" + b" " * (MB - 10) + b"}", headers=bearer())
    assert response.status_code != 413
    assert response.json()["code"] in ("validation_error", "conflict", "not_found"), response.text


@pytest.mark.slow
async def test_the_running_server_refuses_a_chunked_2mb_body(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Against uvicorn over a real socket: a chunked body without Content-Length, then a declared one."""
    with ServiceProcess(database_url, tmp_path, SCHEDULER_ENABLED="false") as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        head, body = await _send_reading_meanwhile(port, "PUT", SAVE, chunked_total=2 * MB)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert json.loads(body)["code"] == "request_too_large"
        head, body = await _send_reading_meanwhile(
            port, "POST", "/api/v1/apps/classy/connect", declared=2 * MB
        )
        assert head.startswith(b"HTTP/1.1 413"), head
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200  # the service is still fine afterwards


async def _send_reading_meanwhile(
    port: int, method: str, path: str, *, chunked_total: int = 0, declared: int = 0
) -> tuple[bytes, bytes]:
    """Send an oversized body while reading the answer, as a browser does; the server may answer (and
    close) before the body is all sent, so a refused write is expected, not a failure.

    A bare socket, not asyncio streams: when a write meets the server's reset, a stream transport
    closes itself and its reader raises at once, dropping the 413 already received. Linux keeps
    received bytes readable after a reset, so reading the socket directly sees the answer."""
    loop = asyncio.get_running_loop()
    framing = f"Content-Length: {declared}" if declared else "Transfer-Encoding: chunked"
    auth = bearer()["Authorization"]
    request_head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n{framing}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setblocking(False)
        await loop.sock_sendall(sock, request_head.encode())

        async def send() -> None:
            sent = 0
            with contextlib.suppress(ConnectionError):
                while sent < (declared or chunked_total):
                    payload = CHUNK if declared else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
                    await loop.sock_sendall(sock, payload)
                    sent += len(CHUNK)
                if not declared:
                    await loop.sock_sendall(sock, b"0\r\n\r\n")

        sending = asyncio.create_task(send())
        try:
            async with asyncio.timeout(30):
                received = await _receive_response(loop, sock)
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sending
    return received


async def _receive_response(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length: its head and its body."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = await loop.sock_recv(sock, 65_536)
        assert chunk, f"connection closed before a whole response head arrived: {buffer!r}"
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    head += b"\r\n\r\n"
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        chunk = await loop.sock_recv(sock, 65_536)
        assert chunk, "connection closed before the whole response body arrived"
        body += chunk
    return head, body[:length]
