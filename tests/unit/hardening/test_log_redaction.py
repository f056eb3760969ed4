"""Redaction happens on the raw text, before JSON encoding; the registry is bounded and one pass."""

from __future__ import annotations

import io
import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.logging import (
    JsonFormatter,
    SecretRegistry,
    bind_log_context,
    forget_secrets,
    redact,
    register_secret,
    secret_registry,
)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON lines through the service's formatter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.redaction.{secrets.token_hex(4)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_access_token_in_a_message_is_masked(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = log
    logger.info('Classy answered {"access_token": "tok-123456789", "expires_in": 3600}')
    line = buffer.getvalue()
    assert "tok-123456789" not in line
    assert lines(buffer)[0]["message"] == 'Classy answered {"access_token": ***, "expires_in": 3600}'


def test_access_token_in_a_traceback_is_masked(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = log
    try:
        raise ValueError({"access_token": "tb-secret-value-1", "refresh_token": "tb-secret-value-2"})
    except ValueError:
        logger.exception("token exchange failed")
    line = buffer.getvalue()
    assert "tb-secret-value-1" not in line and "tb-secret-value-2" not in line
    assert "'access_token': ***" in lines(buffer)[0]["exception"]


def test_a_quoted_value_with_escaped_quotes_is_masked_to_its_end() -> None:
    text = r'{"client_secret": "ab\"cd-rest-of-secret", "next": 1}'
    assert redact(text) == '{"client_secret": ***, "next": 1}'
    escaped = r"body={\"access_token\": \"abc123456\"}"
    assert "abc123456" not in redact(escaped)


@pytest.mark.parametrize(
    "secret",
    ['pa"ss"word-123', "back\\slash\\secret", "naïve-séçret-ü", 'all"\\mixed-é"\\'],
)
def test_registered_secrets_with_quotes_backslashes_or_non_ascii_are_masked(
    log: tuple[logging.Logger, io.StringIO], secret: str
) -> None:
    logger, buffer = log
    register_secret(secret, owner="test:tricky", name=secret)
    try:
        logger.info("raw %s", secret)
        logger.info("repr %r", secret)
        logger.info("json %s", json.dumps({"v": secret}))
        logger.info("json unicode %s", json.dumps({"v": secret}, ensure_ascii=False))
        logger.info("as an extra field", extra={"detail": {"nested": [secret]}})
        try:
            raise RuntimeError(f"failed with {secret!r}")
        except RuntimeError:
            logger.exception("in a traceback")
        output = buffer.getvalue()
        decoded = "\n".join(json.dumps(entry, ensure_ascii=False) for entry in lines(buffer))
        for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
            assert form not in output and form not in decoded, form
        assert output.count("***") >= 6
    finally:
        forget_secrets("test:tricky")


def test_forgotten_secrets_are_no_longer_tracked() -> None:
    register_secret("integration-secret-1", owner="integration:991", name="client_secret")
    register_secret("integration-token-1", owner="integration:991", name="access_token")
    assert redact("x integration-secret-1 y") == "x *** y"
    forget_secrets("integration:991")
    assert redact("x integration-secret-1 y") == "x integration-secret-1 y"
    assert redact("integration-token-1") == "integration-token-1"


def test_a_rotated_token_replaces_the_previous_one() -> None:
    registry = SecretRegistry()
    for n in range(50):
        registry.register(f"rotating-token-{n:04d}", owner="integration:7", name="access_token")
    assert len(registry) == 1


def test_the_registry_is_bounded() -> None:
    registry = SecretRegistry(max_entries=100)
    for _ in range(1000):
        registry.register(secrets.token_urlsafe(16))
    assert len(registry) == 100


def test_matching_is_one_pass_whatever_the_number_of_secrets() -> None:
    """Ten times more secrets, about the same cost per line (a loop over them would cost ten times more)."""
    few, many = SecretRegistry(), SecretRegistry()
    values = [secrets.token_urlsafe(32) for _ in range(4000)]
    for value in values[:400]:
        few.register(value)
    for value in values:
        many.register(value)
    text = ("donation of 52.50 by supporter 1234 " * 300) + values[-1]

    def cost(registry: SecretRegistry) -> float:
        best = float("inf")
        for _ in range(9):
            started = time.perf_counter()
            for _ in range(20):
                masked = registry.mask(text)
            best = min(best, time.perf_counter() - started)
        if registry is many:
            assert values[-1] not in masked
        return best

    ratio = cost(many) / cost(few)
    assert ratio < 4, f"4,000 secrets cost {ratio:.1f}x 400 secrets"


def test_context_ids_are_fields_of_every_line(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = log
    with bind_log_context(request_id="req-1", integration_id=4, run_id=9):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(buffer)
    assert (inside["request_id"], inside["integration_id"], inside["run_id"]) == ("req-1", 4, 9)
    assert "request_id" not in outside


def test_the_process_registry_is_the_one_redact_uses() -> None:
    register_secret("process-wide-secret", owner="test:process", name="s")
    try:
        assert secret_registry().mask("a process-wide-secret b") == "a *** b"
        assert redact("process-wide-secret") == "***"
    finally:
        forget_secrets("test:process")


def test_query_values_that_are_secrets_or_donor_data_are_masked() -> None:
    search = "GET /api/v1/contacts?email=jane.doe%40example.org&limit=5"
    callback = "GET /oauth/classy/callback?code=c0de&state=s7"
    assert redact(search) == "GET /api/v1/contacts?email=***&limit=5"
    assert redact(callback) == "GET /oauth/classy/callback?code=***&state=***"
