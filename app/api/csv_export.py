"""Any list as CSV (`Accept: text/csv`): every page of it, streamed from the database.

Rows are read through a server-side cursor in chunks and written out chunk by chunk, so an export of a
million donations holds one chunk in memory, never the list (bench/csv_export.py measures it). Each row
goes through the same serializer as the JSON list (the `*Out.of` functions), so a CSV row parses back
to its JSON item: one header row, RFC 4180 quoting (CRLF, quotes doubled), nested objects flattened to
`<field>_<member>` columns, money as the same decimal strings, times as the same ISO-8601 text, booleans
as `true`/`false`, null as an empty cell. A cell a spreadsheet would run as a formula (starting with
`=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, except a plain decimal number such as a
negative amount (`-5.00`) or an international phone number (`+44 20 7946 0958`): neither can run
anything, and both must read back as the same text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CSV_MEDIA_TYPE = "text/csv"
CHUNK_ROWS = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# An international phone number (`+44 20 7946 0958`, `+1 (555) 010-0100`): digits and punctuation only,
# nothing a spreadsheet could run (no function, no reference, no command), and a CRM must read it back
# exactly as the JSON gives it.
PHONE_NUMBER = re.compile(r"\+[0-9][0-9 ().-]*")
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "The items as JSON, or with `Accept: text/csv` every page as one CSV document.",
    }
}


def wants_csv(request: Request) -> bool:
    """True when the caller's Accept header names text/csv."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == CSV_MEDIA_TYPE for part in accept.split(","))


def columns(model: type[BaseModel]) -> list[str]:
    """The CSV header of a model: its fields in order, a nested model's fields as `<field>_<member>`."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        names.extend(f"{name}_{sub}" for sub in nested.model_fields) if nested else names.append(name)
    return names


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def cell(value: Any) -> str:
    """One value as spreadsheet-safe text (the JSON form of the value; null is empty)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not (
        PLAIN_NUMBER.fullmatch(text) or PHONE_NUMBER.fullmatch(text)
    ):
        return "'" + text
    return text


def flatten(item: BaseModel, header: list[str]) -> list[str]:
    data = item.model_dump(mode="json")
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{name}_{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    return [cell(flat.get(name)) for name in header]


def _lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def csv_response(
    sessionmaker: async_sessionmaker[AsyncSession],
    query: Select[Any],
    model: type[BaseModel],
    to_item: Callable[[Any], BaseModel],
    *,
    filename: str,
) -> StreamingResponse:
    """Stream `query` (already filtered and ordered) as CSV, one chunk of rows at a time."""
    header = columns(model)

    async def body() -> AsyncIterator[str]:
        yield _lines([header])
        async with sessionmaker() as session:
            result = await session.stream(query.execution_options(yield_per=CHUNK_ROWS))
            # The session's identity map holds rows weakly: a chunk written is free to be collected.
            async for chunk in result.partitions(CHUNK_ROWS):
                yield _lines(flatten(to_item(row), header) for row in chunk)

    return StreamingResponse(
        body(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
