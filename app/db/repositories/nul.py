"""Remove NUL characters, which Postgres cannot store in text or jsonb, from Classy's payloads.

Real web forms do produce them (`"Ann\\u0000a"`), and Postgres rejects the whole page document over
one of them. Checking the encoded page for the escape is a byte search (tens of microseconds for a
100-record page); only a page that holds one is walked and encoded again.
"""

from __future__ import annotations

from typing import Any

import orjson

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"


def without_nul(value: Any) -> Any:
    """`value` with NUL removed from every string in it, keys included (a new object only where needed)."""
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def encode_json(value: Any) -> str:
    """The JSON text Postgres will take: `value` encoded, NULs removed if it held any."""
    encoded = orjson.dumps(value)
    if _ESCAPED_NUL in encoded:
        # A false positive (an escaped backslash before "u0000") only costs this second pass.
        encoded = orjson.dumps(without_nul(value))
    return encoded.decode()
