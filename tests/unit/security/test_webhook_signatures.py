"""Svix signature checks: several signatures, key rotation on Svix's side, stale and forged messages."""

from __future__ import annotations

import time

import pytest

from app.security.webhook_signatures import SignatureRejected, check_secret, verify
from sandbox.webhooks import new_secret, sign

SECRET = new_secret()
OLD = new_secret()
BODY = b'{"type": "supporter.updated", "data": {"id": 5}}'


def _headers(signature: str, *, ts: int, message_id: str = "msg_x") -> dict[str, str]:
    return {"svix-id": message_id, "svix-timestamp": str(ts), "svix-signature": signature}


def test_any_of_several_space_separated_signatures_may_match() -> None:
    ts = int(time.time())
    both = f"{sign(OLD, 'msg_x', ts, BODY)} {sign(SECRET, 'msg_x', ts, BODY)}"
    assert verify(SECRET, BODY, _headers(both, ts=ts)).message_id == "msg_x"
    assert verify(OLD, BODY, _headers(both, ts=ts)).timestamp == ts
    with pytest.raises(SignatureRejected) as rejected:
        verify(new_secret(), BODY, _headers(both, ts=ts))
    assert rejected.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"svix-id": "msg_other"}, "bad_signature"),
        ({"svix-signature": "v2,abc"}, "bad_signature"),
        ({"svix-signature": "v1,%%%"}, "bad_signature"),
        ({"svix-id": "x" * 201}, "bad_signature"),
        ({"svix-timestamp": "1e3"}, "bad_signature"),
    ],
)
def test_a_changed_header_is_rejected(change: dict[str, str], reason: str) -> None:
    ts = int(time.time())
    headers = {**_headers(sign(SECRET, "msg_x", ts, BODY), ts=ts), **change}
    with pytest.raises(SignatureRejected) as rejected:
        verify(SECRET, BODY, headers)
    assert rejected.value.reason == reason


def test_five_minutes_of_tolerance_each_way() -> None:
    now = int(time.time())
    for ts in (now - 290, now + 290):
        verify(SECRET, BODY, _headers(sign(SECRET, "msg_x", ts, BODY), ts=ts))
    for ts in (now - 310, now + 310):
        with pytest.raises(SignatureRejected) as rejected:
            verify(SECRET, BODY, _headers(sign(SECRET, "msg_x", ts, BODY), ts=ts))
        assert rejected.value.reason == "stale"


def test_secret_shape() -> None:
    assert check_secret(SECRET) is None
    assert check_secret(SECRET.removesuffix("=").removesuffix("=")) is None  # unpadded base64
    for bad in ("", "whsec_", "wh_" + SECRET[6:], "whsec_abc$", "whsec_" + "QQ==", "whsec_" + "Q" * 200):
        assert check_secret(bad) is not None, bad
