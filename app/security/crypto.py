"""AES-256-GCM encryption of secrets at rest, with key ids for rotation.

Each value gets a fresh 96-bit nonce; the stored blob is `nonce || ciphertext+tag` and the key id is
stored beside it. The first key of the ring encrypts; every key decrypts, so rotating means putting a
new key first, then re-encrypting (`python -m app rotate-keys`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored secret cannot be decrypted (unknown key id or tampered ciphertext)."""


@dataclass(frozen=True)
class Sealed:
    """A ciphertext and the id of the key that sealed it."""

    key_id: str
    blob: bytes


class Encryptor:
    """Seal and open secrets with a ring of AES-256 keys."""

    def __init__(self, key_ring: list[tuple[str, bytes]]) -> None:
        if not key_ring:
            raise ValueError("at least one key is needed")
        if len({key_id for key_id, _ in key_ring}) != len(key_ring):
            # A repeated id would seal under one key and look up another: unreadable secrets later.
            raise ValueError("every key id in the ring must be unique")
        self._current_id = key_ring[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in key_ring}

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def seal(self, plaintext: str, *, context: bytes = b"") -> Sealed:
        """Encrypt under the current key; `context` (e.g. the row id) is authenticated, not stored."""
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self._current_id].encrypt(nonce, plaintext.encode(), context)
        return Sealed(self._current_id, blob)

    def open(self, sealed: Sealed, *, context: bytes = b"") -> str:
        """Decrypt with the key named by `sealed.key_id`."""
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise DecryptionError(f"No key with id '{sealed.key_id}' is configured in ENCRYPTION_KEYS.")
        try:
            plain = key.decrypt(sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise DecryptionError("A stored secret failed its integrity check.") from exc
        return plain.decode()

    def needs_rotation(self, key_id: str) -> bool:
        return key_id != self._current_id
