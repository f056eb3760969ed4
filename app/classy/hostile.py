"""Answers no honest Classy sends, turned into sentences instead of loops, crashes or unbounded memory.

* A body larger than ``MAX_RESPONSE_BYTES`` (a page of 100 transactions with items is about 0.3 MB):
  the body is streamed and reading stops at the cap, whatever ``Content-Length`` claims.
* Numbers JSON cannot hold as a float (``NaN``, ``Infinity``, ``1e400``): no amount can be right for
  them, so that one value is read as null (its column stays empty) and everything else of the record,
  and of the page, is kept: one odd value never stops a sync (API.md section 4).
* A list that ignores ``page`` (answers page 1 to every page): reading on would loop, or skip.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx

from .errors import ClassyServerError

MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class ClassyResponseTooLargeError(ClassyServerError):
    """Classy's answer exceeded the cap; not retried (the same request would bring the same)."""


class ClassyIgnoresPageError(ClassyServerError):
    """Classy answered another page than the one asked for; not retried."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def read_capped(response: httpx.Response, path: str, cap: int) -> bytes:
    """The body of a streamed response, refusing (before or while reading) more than ``cap`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(path, cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise _too_large(path, cap)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(path: str, cap: int) -> ClassyResponseTooLargeError:
    return ClassyResponseTooLargeError(
        f"Classy answered {path} with more than {_megabytes(cap)}, far more than any page should be; "
        "the sync stopped rather than read it. It will try again later."
    )


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _none(_: str) -> None:
    return None


def decode_with_non_finite_as_null(content: bytes) -> Any:
    """``content`` decoded with every number no float can hold (NaN, Infinity, 1e400) read as null.

    Only called for a body the fast decoder refused, so its cost does not matter; raises ValueError
    when the body is not JSON even so.
    """
    return json.loads(content, parse_float=_finite_or_none, parse_constant=_none)


def ignores_page_error(path: str, asked: int, answered: int) -> ClassyIgnoresPageError:
    return ClassyIgnoresPageError(
        f"Classy answered page {asked} of {path} with page {answered}: it ignores the page parameter, so "
        "the list cannot be read completely. The sync stopped rather than loop; it will try again later."
    )
