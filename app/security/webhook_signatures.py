"""Svix webhook signatures, checked by the `standardwebhooks` library (Svix's own scheme and code).

Svix names its headers `svix-id`, `svix-timestamp`, `svix-signature`; the library reads the same values
under `webhook-*`. It also enforces the 5-minute timestamp tolerance; the timestamp is checked here
first only to tell a stale delivery (a replay, or a badly wrong clock) from a forged one in metrics.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 5 * 60
MAX_MESSAGE_ID_LENGTH = 200
_SECRET = re.compile(r"whsec_([A-Za-z0-9+/]+={0,2})")


class SignatureRejected(Exception):
    """A delivery that must not be acted on; `reason` is `bad_signature` or `stale`."""

    def __init__(self, reason: str, sentence: str) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.sentence = sentence


@dataclass(frozen=True)
class VerifiedMessage:
    message_id: str
    timestamp: int


def check_secret(secret: str) -> str | None:
    """None when `secret` is a usable Svix signing secret (`whsec_` + base64 of 16-128 bytes), else why."""
    match = _SECRET.fullmatch(secret)
    if match is None:
        return "The signing secret must start with whsec_ followed by base64 text, as Classy shows it."
    encoded = match.group(1)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "The signing secret is not valid base64 after whsec_."
    if not 16 <= len(key) <= 128:
        return "The signing secret is too short or too long to be a Svix signing secret."
    return None


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None
) -> VerifiedMessage:
    """Check a delivery's Svix signature; raises `SignatureRejected` unless it is authentic and fresh."""
    message_id = headers.get("svix-id", "")
    timestamp = headers.get("svix-timestamp", "")
    signature = headers.get("svix-signature", "")
    if not (message_id and timestamp and signature):
        raise SignatureRejected(
            "bad_signature", "The svix-id, svix-timestamp and svix-signature headers are required."
        )
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise SignatureRejected("bad_signature", "The svix-id header is too long.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureRejected("bad_signature", "The svix-timestamp header is not a Unix time.") from None
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        raise SignatureRejected("stale", "The svix-timestamp is more than 5 minutes away from now.")
    candidates = _v1_signatures(signature)
    if not candidates:
        raise SignatureRejected("bad_signature", "The webhook signature does not match.")
    standard = {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": candidates}
    try:
        Webhook(secret).verify(body, standard, json_parse=False)
    except WebhookVerificationError as exc:
        reason = "stale" if "timestamp" in str(exc).lower() else "bad_signature"
        raise SignatureRejected(reason, "The webhook signature does not match.") from None
    except ValueError:  # a malformed signature list, or a body that is not UTF-8
        raise SignatureRejected("bad_signature", "The webhook signature does not match.") from None
    return VerifiedMessage(message_id, sent_at)


def _v1_signatures(header: str) -> str:
    """The header's well-formed `v1,<base64>` entries, space-separated (possibly none).

    The library stops at the first entry it cannot split or decode, so one odd entry (a future
    scheme, a typo) would hide a good signature after it; API.md allows several signatures.
    """
    kept = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        kept.append(entry)
    return " ".join(kept)
