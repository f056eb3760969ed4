"""NUL characters are removed in the page's encoding step, and only pages that hold one are walked."""

from __future__ import annotations

import orjson

from app.db.repositories.nul import encode_json, without_nul


def test_nuls_are_removed_everywhere_and_nothing_else_changes() -> None:
    page = [{"id": 1, "first_name": "Ann\x00a", "items": [{"product_name": "\x00T\x00"}], "k\x00": None}]
    assert orjson.loads(encode_json(page)) == [
        {"id": 1, "first_name": "Anna", "items": [{"product_name": "T"}], "k": None}
    ]
    assert page[0]["first_name"] == "Ann\x00a"  # the caller's records are left alone


def test_a_clean_page_is_encoded_once_and_an_escaped_backslash_survives() -> None:
    page = [{"id": 2, "note": "C:\\u0000dir", "amount": 1.5}]  # a literal backslash, not a NUL
    assert orjson.loads(encode_json(page)) == page
    assert without_nul(page) == page
