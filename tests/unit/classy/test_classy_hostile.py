"""Answers no honest Classy sends: a sentence each, never a loop, a crash or an unbounded read."""

from __future__ import annotations

import httpx
import pytest
import respx

from app.classy.hostile import ClassyResponseTooLargeError

from .conftest import API, TOKEN_URL, make_client, page_json, token_json

PATH = "/organizations/82364/transactions"
URL = f"{API}{PATH}"


def _token(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(200, json=token_json())


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
async def test_a_non_finite_amount_in_a_body_is_read_as_null_and_the_rest_kept(
    classy: respx.MockRouter, number: bytes
) -> None:
    _token(classy)
    body = (
        b'{"current_page":1,"last_page":1,"data":[{"id":1,"donation_gross_amount":' + number + b","
        b'"fees_amount":1.25,"billing_first_name":"Ann"},{"id":2,"donation_gross_amount":"10.00"}]}'
    )
    route = classy.get(url__startswith=URL).respond(200, content=body)
    async with make_client() as client:
        page = await client.get_page(PATH)
    assert route.call_count == 1  # not retried: nothing failed
    assert page.data[0]["donation_gross_amount"] is None
    assert page.data[0]["fees_amount"] == 1.25
    assert page.data[0]["billing_first_name"] == "Ann"
    assert page.data[1] == {"id": 2, "donation_gross_amount": "10.00"}


async def test_a_body_over_the_cap_is_refused_while_streaming(classy: respx.MockRouter) -> None:
    _token(classy)

    route = classy.get(url__startswith=URL).mock(
        side_effect=lambda request: httpx.Response(200, stream=_Stream())
    )
    async with make_client(max_response_bytes=64 * 1024) as client:
        with pytest.raises(ClassyResponseTooLargeError, match=r"more than 0\.0625 MB"):
            await client.get_page(PATH)
    assert route.call_count == 1
    assert _Stream.read <= 64 * 1024 + 4096  # stopped at the cap, not at the end


class _Stream(httpx.AsyncByteStream):
    read = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def,override]
        for _ in range(1000):
            _Stream.read += 4096
            yield b"x" * 4096


async def test_a_declared_length_over_the_cap_is_refused_before_reading(classy: respx.MockRouter) -> None:
    _token(classy)
    classy.get(url__startswith=URL).respond(200, content=b"x" * 2000, headers={"Content-Length": "2000"})
    async with make_client(max_response_bytes=1000) as client:
        with pytest.raises(ClassyResponseTooLargeError):
            await client.get_page(PATH)


@pytest.mark.parametrize("value", ["inf", "-inf", "NaN", "1e400"])
async def test_non_finite_rate_limit_headers_neither_crash_nor_park_the_client(
    classy: respx.MockRouter, value: str
) -> None:
    _token(classy)
    headers = {
        "Retry-After": value,
        "X-RateLimit-Reset": value,
        "X-RateLimit-Limit": value,
        "X-RateLimit-Remaining": value,
    }
    route = classy.get(url__startswith=URL).mock(
        side_effect=[
            httpx.Response(429, json={"message": "Too Many Attempts.", "retry_after": 1}, headers=headers),
            httpx.Response(200, json=page_json(1, 1, [{"id": 1}]), headers=headers),
        ]
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with make_client(sleep=sleep) as client:
        page = await client.get_page(PATH)
    assert page.data == [{"id": 1}] and route.call_count == 2
    assert slept and all(s < 5 for s in slept)  # the body's retry_after, not an endless hint
    assert client.limiter.paused_for < 5
