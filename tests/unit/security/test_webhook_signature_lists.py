"""API.md §3: "several space-separated signatures allowed" — one odd entry must not hide a good one.

A list may carry a future scheme (`v1a,…`, `v2,…`), an entry that is not base64, or a bare token; the
delivery is authentic as long as one `v1` entry matches.
"""

from __future__ import annotations

import time

import pytest

from app.security.webhook_signatures import SignatureRejected, verify
from sandbox.webhooks import new_secret, sign

SECRET = new_secret()
BODY = b'{"type": "transaction.updated", "data": {"id": 8}}'


@pytest.mark.parametrize(
    "noise",
    ["v1,not-base64!", "v1,%%%", "garbage", "v1a,abc", "v2,xyz", "v1,", "v1,abc,def"],
)
@pytest.mark.parametrize("good_first", [True, False])
def test_a_good_v1_signature_among_odd_entries_is_accepted(noise: str, good_first: bool) -> None:
    ts = int(time.time())
    good = sign(SECRET, "msg_1", ts, BODY)
    listed = f"{good} {noise}" if good_first else f"{noise} {good}"
    headers = {"svix-id": "msg_1", "svix-timestamp": str(ts), "svix-signature": listed}
    assert verify(SECRET, BODY, headers).message_id == "msg_1"


def test_only_odd_entries_are_rejected() -> None:
    ts = int(time.time())
    headers = {"svix-id": "msg_1", "svix-timestamp": str(ts), "svix-signature": "v1,%%% garbage v2,xyz"}
    with pytest.raises(SignatureRejected) as rejected:
        verify(SECRET, BODY, headers)
    assert rejected.value.reason == "bad_signature"
