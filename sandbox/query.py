"""Parse Classy's list-query grammar: ``filter``, ``sort``, ``with``, ``fields``.

Choices where the reference is silent (see docs/classy-api.md §4, §9):
- comma-joined filter conditions mean AND;
- the literal value ``null`` matches a null field with ``=`` and a non-null one with ``!=``/``<>``;
- otherwise comparisons follow SQL: a null field never matches;
- string comparisons are case-insensitive (Classy runs on MySQL with a ``*_ci`` collation);
- an unknown field, a bad operator or a value of the wrong type is a 400 ``{"errors": [...]}``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.schema import ALLOWED_WITH, NESTED, RESOURCES, field_kind
from sandbox.timefmt import TimestampError, format_ts, parse_filter_ts

_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)")
_OPERATORS = ("<=", ">=", "<>", "!=", "=", "<", ">")
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<>": operator.ne,
    "!=": operator.ne,
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class QueryError(ValueError):
    """The request's query parameters are invalid (rendered as 400 ``{"errors": [message]}``)."""


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    kind: str
    value: Any  # comparable form of the filter value, None for the literal null
    epoch: int | None = None  # for ts values: the instant, used by the updated_at index

    def matches(self, raw: Any) -> bool:
        """Whether a record's raw (JSON) value satisfies this condition."""
        if self.value is None:
            if self.op == "=":
                return raw is None
            if self.op in ("!=", "<>"):
                return raw is not None
            return False
        if raw is None:
            return False
        return _PY_OPS[self.op](comparable(self.kind, raw), self.value)


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool


def comparable(kind: str, raw: Any) -> Any:
    """Map a stored JSON value to a value that orders like Classy's database does."""
    if kind == "str":
        return str(raw).casefold()
    if kind == "date":
        return f"{raw}T00:00:00+0000"
    return raw


def parse_filter(resource: str, text: str | None) -> list[Condition]:
    """Parse ``field<op>value[,field<op>value...]`` into conditions."""
    if text is None or text == "":
        return []
    return [_parse_condition(resource, part) for part in text.split(",")]


def _parse_condition(resource: str, part: str) -> Condition:
    m = _FIELD_RE.match(part)
    if m is None:
        raise QueryError(f"Malformed filter: '{part}'.")
    name = m.group(1)
    rest = part[m.end() :]
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise QueryError(f"Malformed filter: '{part}'. The operator must be one of {', '.join(_OPERATORS)}.")
    kind = field_kind(resource, name)
    if kind is None or kind == "obj":
        raise QueryError(f"Invalid filter field: '{name}'.")
    raw = rest[len(op) :]
    if raw.lower() == "null":
        return Condition(name, op, kind, None)
    return _typed_condition(name, op, kind, raw)


def _typed_condition(name: str, op: str, kind: str, raw: str) -> Condition:
    try:
        if kind == "int":
            return Condition(name, op, kind, int(raw))
        if kind == "num":
            return Condition(name, op, kind, float(raw))
        if kind == "bool":
            low = raw.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(raw)
            return Condition(name, op, kind, low in _TRUE)
        if kind in ("ts", "date"):
            epoch = parse_filter_ts(raw)
            return Condition(name, op, kind, format_ts(epoch), epoch)
    except TimestampError as exc:
        raise QueryError(str(exc)) from exc
    except ValueError as exc:
        raise QueryError(f"Invalid filter value for '{name}': '{raw}'.") from exc
    return Condition(name, op, kind, raw.casefold())


def parse_sort(resource: str, text: str | None) -> list[SortKey]:
    """Parse ``field[:asc|:desc][,field...]``."""
    if text is None or text == "":
        return []
    keys = []
    for part in text.split(","):
        name, _, direction = part.partition(":")
        direction = direction.lower() or "asc"
        if direction not in ("asc", "desc"):
            raise QueryError(f"Invalid sort direction: '{part}'.")
        kind = field_kind(resource, name)
        if kind is None or kind == "obj":
            raise QueryError(f"Invalid sort field: '{name}'.")
        keys.append(SortKey(name, direction == "desc"))
    return keys


def parse_with(resource: str, text: str | None) -> frozenset[str]:
    """Parse ``with``; names outside the endpoint's allowed list are a 400."""
    if text is None or text.strip() == "":
        return frozenset()
    wanted = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = wanted - ALLOWED_WITH.get(resource, frozenset())
    if unknown:
        raise QueryError(f"Invalid relationship(s) for 'with': {', '.join(sorted(unknown))}.")
    return wanted


def parse_fields(resource: str, text: str | None) -> tuple[str, ...] | None:
    """Parse ``fields`` (attributes to return); unknown names are a 400."""
    if text is None or text.strip() == "":
        return None
    wanted = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [f for f in wanted if f not in RESOURCES[resource]]
    if unknown:
        raise QueryError(f"Invalid field(s): {', '.join(unknown)}.")
    return wanted


def nested_member(name: str) -> tuple[str, str] | None:
    """Split ``object.member`` names."""
    if "." not in name:
        return None
    parent, _, member = name.partition(".")
    return (parent, member) if parent in NESTED else None
