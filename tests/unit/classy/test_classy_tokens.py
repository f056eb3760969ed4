"""Tokens: grants sent as client_secret_post forms, error mapping, expiry and secrecy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.classy import (
    ClassyAuthError,
    ClassyServerError,
    ClassyUnreachableError,
    Token,
    TokenManager,
)

from .conftest import SECRET, TOKEN_URL, FakeClock, token_json


def manager(clock: FakeClock | None = None, **overrides: object) -> TokenManager:
    options: dict[str, object] = {
        "client_id": "client-abc",
        "client_secret": SECRET,
        "token_url": TOKEN_URL,
        "backoff_base": 0.001,
        "backoff_cap": 0.005,
    }
    if clock is not None:
        options["now"] = clock.utcnow
    options.update(overrides)
    return TokenManager(**options)  # type: ignore[arg-type]


def form(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in request.headers  # client_secret_post, not HTTP Basic
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_authlib_uses_httpx_so_transports_and_respx_apply() -> None:
    # authlib prefers httpx2 when installed; our transports and respx mocks are httpx ones.
    tokens = manager()
    assert isinstance(tokens._oauth, httpx.AsyncClient)
    await tokens.aclose()


async def test_client_credentials_request_body(classy: respx.MockRouter, clock: FakeClock) -> None:
    route = classy.post(TOKEN_URL).respond(200, json={**token_json(expires_in=7200), "queries_log": []})
    tokens = manager(clock)
    token = await tokens.fetch_app_token()
    assert form(route.calls[0].request) == {
        "grant_type": "client_credentials",
        "client_id": "client-abc",
        "client_secret": SECRET,
    }
    assert token.access_token == "tok-1" and token.refresh_token is None
    assert token.expires_at == clock.utcnow() + timedelta(seconds=7200)
    assert tokens.token is token
    await tokens.aclose()


async def test_authorization_code_request_body(classy: respx.MockRouter, clock: FakeClock) -> None:
    route = classy.post(TOKEN_URL).respond(200, json=token_json(refresh_token="refresh-1"))
    seen: list[Token] = []

    async def on_token(token: Token) -> None:
        seen.append(token)

    tokens = manager(clock, on_token=on_token)
    token = await tokens.exchange_code("the-code", "https://crm.example/oauth/classy/callback")
    assert form(route.calls[0].request) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://crm.example/oauth/classy/callback",
        "client_id": "client-abc",
        "client_secret": SECRET,
    }
    assert token.refresh_token == "refresh-1"
    assert seen == [token]
    await tokens.aclose()


async def test_refresh_token_grant_keeps_refresh_token_when_omitted(
    classy: respx.MockRouter, clock: FakeClock
) -> None:
    route = classy.post(TOKEN_URL).respond(200, json=token_json("tok-2"))
    old = Token("tok-1", expires_at=clock.utcnow() - timedelta(seconds=1), refresh_token="refresh-1")
    tokens = manager(clock, token=old)
    token = await tokens.get_token()
    assert form(route.calls[0].request) == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-1",
        "client_id": "client-abc",
        "client_secret": SECRET,
    }
    assert token.access_token == "tok-2" and token.refresh_token == "refresh-1"
    await tokens.aclose()


async def test_refreshes_before_expiry(classy: respx.MockRouter, clock: FakeClock) -> None:
    route = classy.post(TOKEN_URL)
    route.side_effect = [httpx.Response(200, json=token_json(f"tok-{n}")) for n in (1, 2)]
    tokens = manager(clock)
    first = await tokens.get_token()
    clock.now += 3600 - 61  # 61 s left: still good
    assert await tokens.get_token() is first
    clock.now += 2  # 59 s left: inside the 60 s margin
    second = await tokens.get_token()
    assert second.access_token == "tok-2" and route.call_count == 2
    await tokens.aclose()


async def test_short_lived_token_refreshes_at_ten_percent(clock: FakeClock) -> None:
    token = Token.from_response(token_json(expires_in=100), now=clock.utcnow())
    assert not token.expires_within(60, now=clock.utcnow() + timedelta(seconds=89))
    assert token.expires_within(60, now=clock.utcnow() + timedelta(seconds=91))


async def test_token_rejected_does_not_refresh_a_token_already_replaced(classy: respx.MockRouter) -> None:
    route = classy.post(TOKEN_URL).respond(200, json=token_json("tok-2"))
    tokens = manager(token=Token("tok-current"))
    assert (await tokens.token_rejected(Token("tok-old"))).access_token == "tok-current"
    assert route.call_count == 0
    assert (await tokens.token_rejected(Token("tok-current"))).access_token == "tok-2"
    assert route.call_count == 1
    await tokens.aclose()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": {"client_id": ["The client id field is required."]}, "queries_log": []}),
        (
            400,
            {
                "error": {
                    "secret_key": ["The secret key field is required when client secret is not present."],
                    "client_secret": ["The client secret field is required when secret key is not present."],
                },
                "queries_log": [],
            },
        ),
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
        (400, "Invalid client authentication"),
    ],
)
async def test_credentials_rejected(classy: respx.MockRouter, status: int, body: object) -> None:
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=str(body))
    )
    route = classy.post(TOKEN_URL).mock(return_value=response)
    tokens = manager()
    with pytest.raises(ClassyAuthError) as caught:
        await tokens.fetch_app_token()
    assert caught.value.sentence.startswith("Classy rejected the Client ID or Client Secret.")
    assert caught.value.status_code == status
    assert str(caught.value) == caught.value.sentence
    assert route.call_count == 1  # a rejection is final, not retried
    await tokens.aclose()


async def test_field_messages_are_quoted(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(400, json={"error": {"client_id": ["The client id field is required."]}})
    tokens = manager()
    with pytest.raises(ClassyAuthError, match=r"Classy said: The client id field is required\."):
        await tokens.fetch_app_token()
    await tokens.aclose()


async def test_secret_echoed_by_classy_is_redacted(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(400, json={"error": "invalid_client", "message": f"bad secret {SECRET}"})
    tokens = manager()
    with pytest.raises(ClassyAuthError) as caught:
        await tokens.fetch_app_token()
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    await tokens.aclose()


async def test_bad_authorization_code(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(400, json={"error": "invalid_grant", "error_description": "Code expired"})
    tokens = manager()
    with pytest.raises(ClassyAuthError, match="did not accept the authorization code"):
        await tokens.exchange_code("used-code", "https://crm.example/cb")
    await tokens.aclose()


async def test_refused_refresh_token(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(400, json={"error": "invalid_grant"})
    tokens = manager(token=Token("tok-1", refresh_token="refresh-old"))
    with pytest.raises(ClassyAuthError, match="Authorize the app in Classy again"):
        await tokens.refresh()
    await tokens.aclose()


async def test_token_endpoint_5xx_is_retried_then_server_error(classy: respx.MockRouter) -> None:
    route = classy.post(TOKEN_URL).respond(502, text="<html>bad gateway</html>")
    tokens = manager(max_retries=2)
    with pytest.raises(ClassyServerError) as caught:
        await tokens.fetch_app_token()
    assert caught.value.status_code == 502 and caught.value.transient
    assert route.call_count == 3
    await tokens.aclose()


async def test_token_endpoint_recovers_after_5xx(classy: respx.MockRouter) -> None:
    route = classy.post(TOKEN_URL)
    route.side_effect = [httpx.Response(503), httpx.Response(200, json=token_json())]
    tokens = manager()
    assert (await tokens.fetch_app_token()).access_token == "tok-1"
    await tokens.aclose()


async def test_token_endpoint_unreachable(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("refused"))
    tokens = manager(max_retries=1)
    with pytest.raises(
        ClassyUnreachableError, match=r"Could not reach Classy's sign-in service at api\.classy\.org"
    ):
        await tokens.fetch_app_token()
    await tokens.aclose()


async def test_response_without_access_token(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(200, json={"token_type": "bearer"})
    tokens = manager()
    with pytest.raises(ClassyServerError):
        await tokens.fetch_app_token()
    await tokens.aclose()


def test_token_repr_hides_secrets() -> None:
    token = Token(
        "access-secret", expires_at=datetime(2030, 1, 1, tzinfo=UTC), refresh_token="refresh-secret"
    )
    for text in (repr(token), str(token), f"{token}", repr([token])):
        assert "access-secret" not in text and "refresh-secret" not in text
    assert "2030-01-01" in repr(token)
    tokens = manager(token=token)
    assert "access-secret" not in repr(tokens) and SECRET not in repr(tokens)


def test_token_round_trips_through_dict() -> None:
    token = Token.from_response(token_json(refresh_token="r"), now=datetime(2024, 1, 1, tzinfo=UTC))
    assert Token.from_dict(token.to_dict()) == token
    assert token.expires_at == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
