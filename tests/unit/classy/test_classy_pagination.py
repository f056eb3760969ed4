"""iter_pages: every end condition Classy's paginator can signal, one page at a time."""

from __future__ import annotations

import httpx
import pytest
import respx

from app.classy import Page
from app.classy.hostile import ClassyIgnoresPageError

from .conftest import API, TOKEN_URL, make_client, page_json, token_json

PATH = "/organizations/82364/supporters"
URL = f"{API}{PATH}"


def serve(classy: respx.MockRouter, pages: dict[int, dict[str, object]]) -> respx.Route:
    classy.post(TOKEN_URL).respond(200, json=token_json())

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["per_page"] == "100"
        return httpx.Response(200, json=pages[int(request.url.params["page"])])

    return classy.get(url__startswith=URL).mock(side_effect=handler)


async def collect(**kwargs: object) -> list[Page]:
    async with make_client() as client:
        return [page async for page in client.iter_pages(PATH, **kwargs)]  # type: ignore[arg-type]


async def test_stops_at_last_page(classy: respx.MockRouter) -> None:
    route = serve(classy, {n: page_json(n, 3, [{"id": n}], total=3) for n in (1, 2, 3)})
    pages = await collect(sort="id:asc")
    assert [p.current_page for p in pages] == [1, 2, 3]
    assert [p.data for p in pages] == [[{"id": 1}], [{"id": 2}], [{"id": 3}]]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2", "3"]
    assert all(c.request.url.params["sort"] == "id:asc" for c in route.calls)
    assert pages[-1].next_page_url is None and pages[-1].is_last


async def test_stops_when_next_page_url_is_null(classy: respx.MockRouter) -> None:
    route = serve(classy, {1: page_json(1, 5, [{"id": 1}]), 2: page_json(2, 5, [{"id": 2}], next_url=None)})
    pages = await collect()
    assert [p.current_page for p in pages] == [1, 2] and route.call_count == 2


async def test_stops_on_empty_data(classy: respx.MockRouter) -> None:
    route = serve(classy, {1: page_json(1, 5, [{"id": 1}]), 2: page_json(2, 5, [], next_url=f"{URL}?page=3")})
    pages = await collect()
    assert [len(p.data) for p in pages] == [1, 0] and route.call_count == 2


async def test_single_empty_list(classy: respx.MockRouter) -> None:
    route = serve(classy, {1: page_json(1, 1, [])})
    pages = await collect()
    assert len(pages) == 1 and pages[0].total == 0 and pages[0].data == []
    assert route.call_count == 1


async def test_single_full_page(classy: respx.MockRouter) -> None:
    route = serve(classy, {1: page_json(1, 1, [{"id": i} for i in range(100)])})
    pages = await collect()
    assert len(pages) == 1 and len(pages[0].data) == 100 and route.call_count == 1


async def test_start_page(classy: respx.MockRouter) -> None:
    route = serve(classy, {n: page_json(n, 4, [{"id": n}]) for n in (3, 4)})
    pages = await collect(start_page=3)
    assert [p.current_page for p in pages] == [3, 4] and route.call_count == 2


async def test_server_ignoring_page_param_cannot_loop_forever(classy: respx.MockRouter) -> None:
    route = serve(classy, {n: page_json(1, 3, [{"id": 1}]) for n in (1, 2, 3, 4)})
    with pytest.raises(ClassyIgnoresPageError, match=r"answered page 2 of .* with page 1: it ignores"):
        await collect()
    assert route.call_count == 2  # not retried: the same request would bring the same page


async def test_a_page_past_the_end_answered_with_the_last_page_is_empty(classy: respx.MockRouter) -> None:
    """Records left the list since page 2 was counted: a server that answers page 3 with its last page
    (2) holds nothing at page 3, rather than ignoring the page parameter."""
    serve(classy, {3: page_json(2, 2, [{"id": 7}])})
    async with make_client() as client:
        page = await client.get_page(PATH, page=3)
    assert (page.current_page, page.data, page.is_last) == (3, [], True)


async def test_envelope_numbers_given_as_strings_and_missing_next_url(classy: respx.MockRouter) -> None:
    first = page_json(1, 2, [{"id": 1}])
    first.update(per_page="100", last_page="2", total="2")
    del first["next_page_url"]
    serve(classy, {1: first, 2: page_json(2, 2, [{"id": 2}])})
    pages = await collect()
    assert [p.current_page for p in pages] == [1, 2]
    assert pages[0].per_page == 100 and pages[0].total == 2 and pages[0].last_page == 2
