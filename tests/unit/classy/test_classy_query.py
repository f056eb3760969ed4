"""Query building: Classy's filter grammar, encoded exactly once (docs/classy-api.md §4.1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import respx

from app.classy import ClassyClient, build_params, condition, encode_query, format_timestamp

from .conftest import API, TOKEN_URL, make_client, page_json, token_json

JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)


def test_format_timestamp_is_utc_plus0000_without_milliseconds() -> None:
    assert format_timestamp(JAN_1) == "2024-01-01T00:00:00+0000"
    assert format_timestamp(datetime(2024, 1, 1, 0, 0, 0, 987654, tzinfo=UTC)) == "2024-01-01T00:00:00+0000"
    eastern = timezone(timedelta(hours=-5))
    assert format_timestamp(datetime(2024, 1, 1, 7, 30, tzinfo=eastern)) == "2024-01-01T12:30:00+0000"


def test_format_timestamp_rejects_naive() -> None:
    with pytest.raises(ValueError):
        format_timestamp(datetime(2024, 1, 1))


@pytest.mark.parametrize("op", ["<=", ">=", "<>", "!=", "=", "<", ">"])
def test_condition_accepts_every_operator(op: str) -> None:
    assert condition("id", op, 5) == f"id{op}5"


def test_condition_formats_values() -> None:
    assert condition("updated_at", ">=", JAN_1) == "updated_at>=2024-01-01T00:00:00+0000"
    assert condition("is_anonymous", "=", True) == "is_anonymous=true"
    assert condition("is_anonymous", "=", False) == "is_anonymous=false"
    assert condition("purchased_at", ">", date(2025, 4, 20)) == "purchased_at>2025-04-20"
    assert condition("status", "=", "success") == "status=success"
    assert condition("total_gross_amount", ">", Decimal("10.50")) == "total_gross_amount>10.50"


def test_condition_rejects_unknown_operator_and_bad_field() -> None:
    with pytest.raises(ValueError):
        condition("id", "=>", 1)
    with pytest.raises(ValueError):
        condition("id>", "=", 1)
    with pytest.raises(TypeError):
        condition("id", "=", None)


def test_digest_example_exactly() -> None:
    query = encode_query([("filter", condition("updated_at", ">", JAN_1))])
    assert f"?{query}" == "?filter=updated_at%3E2024-01-01T00%3A00%3A00%2B0000"


def test_build_params_joins_conditions_into_one_filter() -> None:
    params = build_params(
        page=2,
        per_page=50,
        filter=[condition("updated_at", ">=", JAN_1), condition("status", "=", "success")],
        sort=["updated_at:asc", "id:asc"],
        with_=("items", "supporter"),
    )
    assert params == [
        ("filter", "updated_at>=2024-01-01T00:00:00+0000,status=success"),
        ("sort", "updated_at:asc,id:asc"),
        ("with", "items,supporter"),
        ("page", "2"),
        ("per_page", "50"),
    ]
    assert [name for name, _ in params].count("filter") == 1


def test_build_params_omits_empty_parts_and_checks_bounds() -> None:
    assert build_params(filter=None, sort=[], with_="") == [("page", "1"), ("per_page", "100")]
    with pytest.raises(ValueError):
        build_params(per_page=101)
    with pytest.raises(ValueError):
        build_params(page=0)


def test_encode_query_encodes_plus_space_and_operators_once() -> None:
    assert encode_query([("filter", "a<=1 +x")]) == "filter=a%3C%3D1%20%2Bx"
    assert "%25" not in encode_query([("filter", "updated_at>=2024-01-01T00:00:00+0000")])


async def test_wire_format_of_a_list_request(classy: respx.MockRouter) -> None:
    classy.post(TOKEN_URL).respond(200, json=token_json())
    route = classy.get(url__startswith=f"{API}/organizations/82364/transactions").respond(
        200, json=page_json(1, 1, [])
    )
    async with make_client() as client:
        await client.get_page(
            "/organizations/82364/transactions",
            filter=condition("updated_at", ">=", datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
            sort="updated_at:asc,id:asc",
            with_="items",
        )
    raw = route.calls[0].request.url.raw_path
    assert raw == (
        b"/2.0/organizations/82364/transactions"
        b"?filter=updated_at%3E%3D2024-01-01T00%3A00%3A00%2B0000"
        b"&sort=updated_at%3Aasc%2Cid%3Aasc&with=items&page=1&per_page=100"
    )
    assert route.calls[0].request.url.params["filter"] == "updated_at>=2024-01-01T00:00:00+0000"


def test_authorize_url() -> None:
    url = ClassyClient.authorize_url(
        "https://login.classy.org/authorize",
        client_id="client-abc",
        redirect_uri="https://crm.example/oauth/classy/callback",
        state="st ate+1",
        scope="read",
    )
    assert url == (
        "https://login.classy.org/authorize?client_id=client-abc&response_type=code"
        "&redirect_uri=https%3A%2F%2Fcrm.example%2Foauth%2Fclassy%2Fcallback&state=st%20ate%2B1&scope=read"
    )
