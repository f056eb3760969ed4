"""Render records and Laravel length-aware paginator envelopes as JSON bytes (orjson)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from sandbox.collection import Collection, Rec

ON_EACH_SIDE = 3


CACHE_BUDGET = 256 * 1024 * 1024  # bytes of cached record JSON per collection before the cache is reset


def record_bytes(
    coll: Collection,
    rec: Rec,
    *,
    items: bool,
    fields: tuple[str, ...] | None = None,
    embeds: dict[str, Any] | None = None,
) -> bytes:
    """One record's JSON; ``items`` only when asked (``with=items``).

    The plain and with-items renderings are cached on the record (a mutation replaces the record, so
    the cache can never be stale); past ``CACHE_BUDGET`` bytes per collection every cache is dropped.
    """
    if fields is None and not embeds:
        blob = rec.blob_items if items else rec.blob
        if blob is None:
            row = coll.row(rec)
            if items:
                row["items"] = coll.item_rows(rec)
            blob = orjson.dumps(row)
            _remember(coll, rec, items, blob)
        return blob
    row = coll.row(rec)
    if fields is not None:
        row = {f: row[f] for f in fields}
    if items:
        row["items"] = coll.item_rows(rec)
    if embeds:
        row.update(embeds)
    return orjson.dumps(row)


def with_dedication(blob: bytes, dedication: dict[str, Any] | None) -> bytes:
    """A transaction's JSON with its ``dedication`` (``with=dedication``; null when it has none).

    Spliced into the cached rendering rather than re-rendering the record: the embed keeps the cache.
    """
    return b"".join((blob[:-1], b',"dedication":', orjson.dumps(dedication), b"}"))


def _remember(coll: Collection, rec: Rec, items: bool, blob: bytes) -> None:
    if coll.cached_bytes + len(blob) > CACHE_BUDGET:
        for r in coll.recs.values():
            r.blob = r.blob_items = None
        coll.cached_bytes = 0
    coll.cached_bytes += len(blob)
    if items:
        rec.blob_items = blob
    else:
        rec.blob = blob


class PageUrls:
    """Laravel's ``url($page)``: the other query params kept in order, ``page`` replaced or appended.

    Encoded like PHP's ``http_build_query(..., PHP_QUERY_RFC3986)`` so ``+`` travels as ``%2B``.
    The query is encoded once per response; each page number is then spliced in.
    """

    def __init__(self, path: str, query: Sequence[tuple[str, str]]) -> None:
        parts = [urlencode([(k, v)], quote_via=quote, safe="") if k != "page" else None for k, v in query]
        if None not in parts:
            parts.append(None)
        i = parts.index(None)
        self.head = f"{path}?" + "".join(f"{p}&" for p in parts[:i] if p is not None)
        tail = [p for p in parts[i + 1 :] if p is not None]
        self.tail = "".join(f"&{p}" for p in tail)

    def __call__(self, page: int) -> str:
        return f"{self.head}page={page}{self.tail}"


def page_url(path: str, query: Sequence[tuple[str, str]], page: int) -> str:
    """One page URL (see ``PageUrls``)."""
    return PageUrls(path, query)(page)


def _window(current: int, last: int) -> list[int | None]:
    """Page numbers shown in ``links`` (Laravel's UrlWindow); None is a ``...`` gap."""
    if last < ON_EACH_SIDE * 2 + 8:
        return list(range(1, last + 1))
    window = ON_EACH_SIDE + 4
    if current <= window:
        return [*range(1, window + ON_EACH_SIDE + 1), None, last - 1, last]
    if current > last - window:
        return [1, 2, None, *range(last - (window + ON_EACH_SIDE - 1), last + 1)]
    return [1, 2, None, *range(current - ON_EACH_SIDE, current + ON_EACH_SIDE + 1), None, last - 1, last]


def envelope(
    *, path: str, query: Sequence[tuple[str, str]], page: int, per_page: int, total: int, data: list[bytes]
) -> bytes:
    """The paginator body, with ``data`` spliced in as pre-rendered record bytes."""
    last = max(1, math.ceil(total / per_page))
    url = PageUrls(path, query)
    first_index = (page - 1) * per_page + 1
    has_rows = bool(data)
    prev_url = url(page - 1) if page > 1 else None
    next_url = url(page + 1) if page < last else None
    links: list[dict[str, Any]] = [{"url": prev_url, "label": "&laquo; Previous", "active": False}]
    for n in _window(page, last):
        if n is None:
            links.append({"url": None, "label": "...", "active": False})
        else:
            links.append({"url": url(n), "label": str(n), "active": n == page})
    links.append({"url": next_url, "label": "Next &raquo;", "active": False})
    tail = {
        "first_page_url": url(1),
        "from": first_index if has_rows else None,
        "last_page": last,
        "last_page_url": url(last),
        "links": links,
        "next_page_url": next_url,
        "path": path,
        "per_page": per_page,
        "prev_page_url": prev_url,
        "to": first_index + len(data) - 1 if has_rows else None,
        "total": total,
    }
    return b"".join(
        (
            b'{"current_page":',
            str(page).encode(),
            b',"data":[',
            b",".join(data),
            b"],",
            orjson.dumps(tail)[1:],
        )
    )
