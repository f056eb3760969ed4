"""Save's organization check works where Classy does not serve GET /organizations/{id}."""

from __future__ import annotations

import pytest
import respx

from app.errors import UnprocessableError
from app.services.classy_checks import ClassyChecks
from app.settings import Settings

API = "https://classy.test/2.0"
TOKEN = "https://classy.test/oauth2/auth"


def checks() -> ClassyChecks:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, APP_ENV="test", CLASSY_API_URL=API, CLASSY_TOKEN_URL=TOKEN
    )
    return ClassyChecks(settings)


def page(data: list[dict[str, object]]) -> dict[str, object]:
    return {
        "current_page": 1,
        "last_page": 1,
        "per_page": 1,
        "total": len(data),
        "next_page_url": None,
        "data": data,
    }


@respx.mock
async def test_falls_back_to_an_org_scoped_list_when_the_org_endpoint_is_missing() -> None:
    respx.post(TOKEN).respond(
        200, json={"access_token": "t0k3n-value", "expires_in": 3600, "token_type": "bearer"}
    )
    respx.get(f"{API}/organizations/42").respond(404, json={"error": "The resource cannot be found"})
    listing = respx.get(f"{API}/organizations/42/campaigns").respond(200, json=page([{"id": 1}]))
    token = await checks().verify_app(client_id="id", client_secret="secret", organization_id=42)
    assert token.access_token == "t0k3n-value" and listing.called


@respx.mock
async def test_unknown_organization_is_still_rejected() -> None:
    respx.post(TOKEN).respond(
        200, json={"access_token": "t0k3n-value", "expires_in": 3600, "token_type": "bearer"}
    )
    respx.get(f"{API}/organizations/42").respond(404, json={"error": "The resource cannot be found"})
    respx.get(f"{API}/organizations/42/campaigns").respond(
        404, json={"error": "The resource cannot be found"}
    )
    with pytest.raises(UnprocessableError) as caught:
        await checks().verify_app(client_id="id", client_secret="secret", organization_id=42)
    assert caught.value.code == "organization_not_accessible"
    assert isinstance(caught.value, UnprocessableError)


@respx.mock
async def test_org_not_linked_to_the_app_is_rejected() -> None:
    respx.post(TOKEN).respond(
        200, json={"access_token": "t0k3n-value", "expires_in": 3600, "token_type": "bearer"}
    )
    respx.get(f"{API}/organizations/42").respond(
        403, json={"error": "This action is unauthorized.", "permissions": []}
    )
    with pytest.raises(UnprocessableError) as caught:
        await checks().verify_app(client_id="id", client_secret="secret", organization_id=42)
    assert caught.value.code == "organization_not_accessible"


@respx.mock
async def test_the_check_uses_the_apps_limiter_at_the_configured_rate() -> None:
    """Save's check must not pin the app's shared limiter at Classy's default rate (it did once)."""
    from app.classy.ratelimit import limiter_for, limiter_registry

    respx.post(TOKEN).respond(
        200, json={"access_token": "t0k3n-value", "expires_in": 3600, "token_type": "bearer"}
    )
    respx.get(f"{API}/organizations/42").respond(200, json={"id": 42, "name": "Org"})
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        APP_ENV="test",
        CLASSY_API_URL=API,
        CLASSY_TOKEN_URL=TOKEN,
        CLASSY_RATE_LIMIT_PER_MINUTE=12345,
    )
    await ClassyChecks(settings).verify_app(client_id="rate-app", client_secret="secret", organization_id=42)
    kept = limiter_registry().peek("rate-app")
    assert kept is not None and kept.requests_per_minute == 12345
    assert limiter_for("rate-app", 600).requests_per_minute == 600, "a changed setting takes effect"
