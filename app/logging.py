"""Structured (JSON) logs that never carry a secret.

Redaction runs on the text of each field *before* it is JSON-encoded: once encoded, a quote becomes
`\\"` and a non-ASCII character `\\u…`, so neither a secret holding such characters nor a
`"access_token": "…"` inside a message or a traceback would be recognised any more.

Two layers of protection: values registered with `register_secret` (client secrets, tokens once they
are decrypted or issued) are masked wherever they appear, in their raw, `repr` and JSON-escaped forms,
and well-known secret shapes (bearer tokens, `client_secret=...`, `"access_token": "..."`) are masked
by pattern. Registered values are keyed by their owner, so a disconnect drops them and a rotation
replaces them; the registry is bounded, and all of it is matched in one pass over the text by an
Aho-Corasick automaton (`pyahocorasick`), so a line costs the same whatever their number.

Every line also carries the request, integration and run ids bound to the current context
(`bind_log_context`), so a request's or a sync run's lines can be found together.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import ahocorasick

MASK = "***"
MIN_SECRET_LENGTH = 6
MAX_REGISTERED_SECRETS = 4096

_SECRET_KEYS = (
    r"client_secret|secret_key|access_token|refresh_token|id_token|password|jwt_secret|encryption_keys"
)
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # `key: value`, `key=value`, `"key": "value"`, `'key': 'value'`, and the same escaped once more
    # (a JSON body quoted inside a message). A quoted value is masked up to its closing quote, so a
    # value holding an escaped quote leaks nothing after it.
    re.compile(
        rf"(?i)((?:{_SECRET_KEYS})(?:\\?[\"'])?\s*[:=]\s*)"
        r"(?:\\\"(?:(?!\\\").)*\\\"|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\"'&\s,}\\]+)"
    ),
    # OAuth codes and states, and a donor's email searched for (`/api/v1/contacts?email=…` in access logs).
    re.compile(r"(?i)([?&](?:code|state|email)=)[^&\s\"']+"),
]
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _variants(value: str) -> set[str]:
    """The forms a secret takes in log text: raw, inside a `repr`, inside JSON (both encodings)."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretRegistry:
    """The plaintext secrets this process knows, to be masked; bounded, forgettable, one regex."""

    def __init__(self, max_entries: int = MAX_REGISTERED_SECRETS) -> None:
        self.max_entries = max_entries
        self._values: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._automaton: ahocorasick.Automaton | None = None
        self._stale = False

    def __len__(self) -> int:
        return len(self._values)

    def register(self, value: str | None, *, owner: str = "", name: str = "") -> None:
        """Mask `value` from now on; a new value for the same `owner`/`name` replaces the old one."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        key = (owner, name) if owner else ("", value)
        with self._lock:
            if self._values.get(key) == value:
                self._values.move_to_end(key)
                return
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)  # the least recently used
            self._stale = True

    def forget(self, owner: str) -> None:
        """Drop every value registered for `owner` (its secrets were erased)."""
        with self._lock:
            keys = [key for key in self._values if key[0] == owner]
            for key in keys:
                del self._values[key]
            self._stale = self._stale or bool(keys)

    def mask(self, text: str) -> str:
        """`text` with every registered value (longest first, left to right) replaced by the mask."""
        automaton = self._current_automaton()
        if automaton is None:
            return text
        pieces: list[str] = []
        position = 0
        for end, length in automaton.iter_long(text):
            start = end - length + 1
            pieces.append(text[position:start])
            pieces.append(MASK)
            position = end + 1
        if not pieces:
            return text
        pieces.append(text[position:])
        return "".join(pieces)

    def _current_automaton(self) -> ahocorasick.Automaton | None:
        with self._lock:
            if self._stale:
                words = set().union(*(_variants(value) for value in self._values.values()))
                automaton = ahocorasick.Automaton() if words else None
                if automaton is not None:
                    for word in words:
                        automaton.add_word(word, len(word))
                    automaton.make_automaton()
                self._automaton = automaton
                self._stale = False
            return self._automaton


_registry = SecretRegistry()


def register_secret(value: str | None, *, owner: str = "", name: str = "") -> None:
    """Mask `value` in every later log line (ignored when too short to be a secret).

    With an `owner` (e.g. `integration:42`) and a `name`, the value replaces the one registered before
    under that name and is dropped by `forget_secrets(owner)`; anonymous values age out when the
    registry is full.
    """
    _registry.register(value, owner=owner, name=name)


def forget_secrets(owner: str) -> None:
    """Stop tracking `owner`'s secrets (disconnected: they are erased and no longer used)."""
    _registry.forget(owner)


def secret_registry() -> SecretRegistry:
    return _registry


def redact(text: str) -> str:
    """Mask registered secrets and known secret patterns in `text` (raw text, not yet encoded)."""
    text = _registry.mask(text)
    for known in _PATTERNS:
        text = known.sub(lambda m: m.group(1) + MASK, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    return redact(str(value))


_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
_log_context: ContextVar[Mapping[str, Any]] = ContextVar("classy_sync_log_context", default=_NO_CONTEXT)


@contextmanager
def bind_log_context(**fields: Any) -> Iterator[None]:
    """Add fields (request_id, integration_id, run_id) to every line logged in this context."""
    token = _log_context.set({**_log_context.get(), **fields})
    try:
        yield
    finally:
        _log_context.reset(token)


def bind_task_log_context(**fields: Any) -> None:
    """Like `bind_log_context`, for the rest of the current asyncio task (a sync run's own task:
    each task runs in a copy of the context, so nothing leaks to other tasks)."""
    _log_context.set({**_log_context.get(), **fields})


def log_context() -> Mapping[str, Any]:
    return _log_context.get()


_SAFE_ATTRIBUTES = ("sqlstate", "constraint_name", "table_name", "column_name", "schema_name")


def describe_exception(exc: BaseException) -> str:
    """A traceback without exception messages, for failures whose message may quote data.

    A database error's message can hold the statement's parameters or the offending value (a donor's
    name, an email, a page of JSON); its type, SQLSTATE, constraint/column names and the frames are
    enough to find the bug and carry none of that.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        facts = [
            f"{name}={getattr(current, name)}" for name in _SAFE_ATTRIBUTES if getattr(current, name, None)
        ]
        frames = traceback.extract_tb(current.__traceback__)
        where = " <- ".join(f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in reversed(frames))
        parts.append(
            f"{type(current).__module__}.{type(current).__qualname__}"
            + (f" ({', '.join(facts)})" if facts else "")
            + (f" at {where}" if where else "")
        )
        current = current.__cause__ or current.__context__
    return " | caused by: ".join(parts)


_DATABASE_MODULES = ("sqlalchemy.", "asyncpg.")


def _quotes_data(exc: BaseException) -> bool:
    """A database error (anywhere in the chain): its message may quote rows (`DETAIL: Failing row
    contains (…)`), so whoever logs it (us, uvicorn, a library) gets `describe_exception` instead."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.startswith(_DATABASE_MODULES) or hasattr(current, "sqlstate"):
            return True
        current = current.__cause__ or current.__context__
    return False


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context ids and `extra` fields, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in log_context().items():
            payload[key] = _redact_value(value)
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = _redact_value(value)
        if record.exc_info:
            error = record.exc_info[1]
            if error is not None and _quotes_data(error):
                payload["exception"] = redact(describe_exception(error))
            else:
                payload["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            payload["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(payload, default=str)


class _RefusalAlreadySaid(logging.Filter):
    """Drops uvicorn's traceback of a refusal to start: its one sentence is already logged (API.md §3)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "app.settings.ConfigurationError" not in record.getMessage()


def configure_logging(level: str = "INFO") -> None:
    """Route all logging (ours, uvicorn's, SQLAlchemy's) through the redacting JSON formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    refusal = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _RefusalAlreadySaid) for f in refusal.filters):
        refusal.addFilter(_RefusalAlreadySaid())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # SQLAlchemy logs statements at INFO: never, whatever LOG_LEVEL says (they describe donor data).
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.WARNING)
