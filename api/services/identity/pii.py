"""Protection of national ID numbers at rest: AES-GCM encryption plus a keyed lookup hash.

A database dump shows neither the number nor a hash that could be brute-forced without the key
(18-digit IDs have little entropy, so a plain hash would be reversible).

Keys rotate. The key ring is "ID:KEY,ID:KEY,..." (IDs 1-255, KEY base64 of >= 32 bytes): the
first key seals, every listed key opens. A sealed blob starts with its key's ID, then the nonce
and the ciphertext (the ID is bound in as associated data); blobs sealed before rotation
existed start with 0x01, so they are key 1's and open unchanged. The lookup digest has its own
key, which rotation of the ring never touches, so digests (and the debtor matching built on
them) stay stable; it defaults to key 1, which is how every digest was keyed before."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LEGACY_KEY_ID = 1


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


def decode_key(key: str, *, strict: bool = True, what: str = "a PII key") -> bytes:
    """The key material of base64 `key` (>= 32 bytes). Not strict (development and tests):
    any other string is hashed into a key."""
    try:
        master = base64.b64decode(key, validate=True)
        if len(master) >= 32:
            return master
    except (binascii.Error, ValueError):
        pass
    if strict:
        raise ValueError(f"{what} must be base64 of at least 32 random bytes")
    return hashlib.sha256(key.encode()).digest()


def parse_key_ring(ring: str, *, strict: bool = True) -> dict[int, bytes]:
    """'ID:KEY,ID:KEY' (first seals) to {id: material}, in order; a bare KEY is key 1."""
    keys: dict[int, bytes] = {}
    for entry in (part.strip() for part in ring.split(",")):
        if not entry:
            continue
        key_id, sep, key = entry.partition(":")
        if not sep:
            key_id, key = str(LEGACY_KEY_ID), entry
        if not key_id.isdigit() or not 1 <= int(key_id) <= 255:
            raise ValueError(f"PII key id {key_id!r} must be a number from 1 to 255")
        if int(key_id) in keys:
            raise ValueError(f"PII key id {key_id} is listed twice")
        keys[int(key_id)] = decode_key(key, strict=strict)
    if not keys:
        raise ValueError("no PII key given")
    return keys


class PiiCipher:
    def __init__(self, keys: dict[int, bytes], lookup_key: bytes | None = None):
        """`keys`: {id: material}, the sealing key first; `lookup_key` keys the lookup digest
        (default: key 1's material)."""
        self._seal_id = next(iter(keys))
        self._aeads = {key_id: AESGCM(_derive(m, b"fieldvisit pii encryption"))
                       for key_id, m in keys.items()}
        if lookup_key is None:
            if LEGACY_KEY_ID not in keys:
                raise ValueError("PII key 1 is not in the ring, so a lookup key must be set")
            lookup_key = keys[LEGACY_KEY_ID]
        self._mac_key = _derive(lookup_key, b"fieldvisit pii lookup")

    @classmethod
    def from_settings(
        cls, key_ring: str, lookup_key: str | None = None, *, strict: bool = True
    ) -> PiiCipher:
        """From the configured ring and lookup key (see the module)."""
        lookup = decode_key(lookup_key, strict=strict) if lookup_key else None
        return cls(parse_key_ring(key_ring, strict=strict), lookup)

    @classmethod
    def for_development(cls, secret: str) -> PiiCipher:
        """Key 1 hashed from `secret` (development and tests only)."""
        return cls({LEGACY_KEY_ID: decode_key(secret, strict=False)})

    def seal(self, data: bytes) -> bytes:
        header = bytes([self._seal_id])
        nonce = os.urandom(12)
        return header + nonce + self._aeads[self._seal_id].encrypt(nonce, data, header)

    def unseal(self, blob: bytes) -> bytes:
        aead = self._aeads.get(blob[0]) if blob else None
        if aead is None:
            raise ValueError(f"sealed under PII key {blob[:1].hex() or '?'}, not in the ring")
        return aead.decrypt(blob[1:13], blob[13:], blob[:1])

    def encrypt(self, plaintext: str) -> bytes:
        return self.seal(plaintext.encode())

    def decrypt(self, blob: bytes) -> str:
        return self.unseal(blob).decode()

    def digest(self, plaintext: str) -> str:
        return hmac.new(self._mac_key, plaintext.encode(), hashlib.sha256).hexdigest()
