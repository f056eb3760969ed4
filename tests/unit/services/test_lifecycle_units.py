"""Unit pieces of the lifecycle: input parsing, cursors, Classy error mapping, status rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.api.pagination import decode_cursor, encode_cursor
from app.api.schemas import CredentialsIn, IntegrationRead
from app.db.models import Integration
from app.errors import AppError
from app.services.classy_checks import ClassyChecks
from app.services.lifecycle import IntegrationView
from app.services.oauth import hash_state
from app.services.transitions import request_sync
from app.settings import Settings

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [(82364, 82364), ("82364", 82364), (" 7 ", 7)])
def test_organization_id_accepts_int_or_digits(value: object, expected: int) -> None:
    body = CredentialsIn.model_validate({"client_id": " id ", "client_secret": "s", "organization_id": value})
    assert body.organization_id == expected and body.client_id == "id"


@pytest.mark.parametrize("value", ["12a", "", "-3", 0, -1, 1.5, True, None, "١٢", 10**16, [1]])
def test_organization_id_rejects_the_rest(value: object) -> None:
    with pytest.raises(ValidationError, match="organization_id"):
        CredentialsIn.model_validate({"client_id": "id", "client_secret": "s", "organization_id": value})


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
@pytest.mark.parametrize("value", ["", "  ", "a\x00b", "line\nbreak"])
def test_ids_and_secrets_must_be_printable_and_present(field: str, value: str) -> None:
    data: dict[str, Any] = {"client_id": "id", "client_secret": "s", "organization_id": 1, field: value}
    with pytest.raises(ValidationError):
        CredentialsIn.model_validate(data)


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(None) is None and decode_cursor("") is None
    for bad in ["garbage!", encode_cursor(1)[:-1] + "@", "aWQ6eA"]:  # last: "id:x"
        with pytest.raises(AppError) as info:
            decode_cursor(bad)
        assert info.value.status_code == 422 and info.value.code == "invalid_cursor"


def test_state_hash_is_sha256_hex() -> None:
    digest = hash_state("abc")
    assert len(digest) == 64 and digest != "abc" and digest == hash_state("abc")


def test_lifecycle_triggers_name_the_next_run_and_manual_does_not_relabel_them() -> None:
    integration = Integration(sync_requested_trigger=None)
    request_sync(integration, "manual", now=NOW)
    assert integration.sync_requested_trigger == "manual" and integration.next_sync_at == NOW
    request_sync(integration, "initial", now=NOW)
    request_sync(integration, "manual", now=NOW)
    assert integration.sync_requested_trigger == "initial"
    request_sync(integration, "resume", now=NOW)
    assert integration.sync_requested_trigger == "resume"
    request_sync(integration, "reconnect", now=NOW)
    assert integration.sync_requested_trigger == "reconnect"


@pytest.mark.parametrize(
    ("status", "badge"),
    [
        ("connected", "Connected"),
        ("paused", "Paused"),
        ("disconnected", "Disconnected"),
        ("error", "Error"),
        ("awaiting_credentials", None),
        ("awaiting_authorization", None),
    ],
)
def test_badge_follows_status(status: str, badge: str | None) -> None:
    row = Integration(status=status, version=3, organization_id=5, client_id="c", next_sync_at=NOW)
    read = IntegrationRead.from_view(IntegrationView(row), redirect_uri="u", auth_flow="client_credentials")
    assert read.badge == badge and read.organization_id == 5 and read.version == 3
    assert (read.next_sync_at is not None) == (status in ("connected", "error"))
    assert "secret" not in read.model_dump_json()


def test_no_row_is_available() -> None:
    read = IntegrationRead.from_view(IntegrationView(None), redirect_uri="u", auth_flow="client_credentials")
    assert read.status == "available" and read.badge is None and read.redirect_uri == "u"


def _checks(handler: Any) -> ClassyChecks:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        APP_ENV="test",
        CLASSY_API_URL="https://classy.test/2.0",
        CLASSY_TOKEN_URL="https://classy.test/oauth2/auth",
    )
    return ClassyChecks(settings, transport=httpx.MockTransport(handler), max_retries=0)


def _classy(token_status: int, org_status: int) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/auth":
            if token_status != 200:
                return httpx.Response(token_status, json={"error": "invalid_client"})
            return httpx.Response(
                200, json={"access_token": "tok", "expires_in": 3600, "token_type": "bearer"}
            )
        if org_status != 200:
            return httpx.Response(org_status, json={"error": "nope"})
        return httpx.Response(200, json={"id": 7, "name": "Org"})

    return handler


@pytest.mark.parametrize(
    ("token_status", "org_status", "status", "code"),
    [
        (400, 200, 422, "invalid_credentials"),
        (401, 200, 422, "invalid_credentials"),
        (200, 403, 422, "organization_not_accessible"),
        (200, 404, 422, "organization_not_accessible"),
        (500, 200, 502, "classy_unavailable"),
        (200, 500, 502, "classy_unavailable"),
        (200, 429, 502, "classy_unavailable"),
    ],
)
async def test_verification_errors_map_to_sentences(
    token_status: int, org_status: int, status: int, code: str
) -> None:
    with pytest.raises(AppError) as info:
        await _checks(_classy(token_status, org_status)).verify_app(
            client_id="cid", client_secret="hunter2-secret", organization_id=7
        )
    assert (info.value.status_code, info.value.code) == (status, code)
    assert "hunter2-secret" not in info.value.detail and info.value.detail.endswith((".", ")"))


async def test_verification_success_returns_the_token() -> None:
    token = await _checks(_classy(200, 200)).verify_app(client_id="cid", client_secret="s", organization_id=7)
    assert token.access_token == "tok" and token.expires_at is not None
