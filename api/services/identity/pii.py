"""Protection of national ID numbers at rest: AES-GCM encryption plus a keyed lookup hash.

A database dump shows neither the number nor a hash that could be brute-forced without the key
(18-digit IDs have little entropy, so a plain hash would be reversible)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


class PiiCipher:
    def __init__(self, key: str):
        """`key` is the configured PII key (base64 of >= 32 bytes) or, in development, any
        secret string; distinct subkeys are derived for encryption and for lookup hashes."""
        try:
            master = base64.b64decode(key, validate=True)
            if len(master) < 32:
                raise ValueError
        except ValueError:
            master = hashlib.sha256(key.encode()).digest()
        self._aead = AESGCM(_derive(master, b"fieldvisit pii encryption"))
        self._mac_key = _derive(master, b"fieldvisit pii lookup")

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, _VERSION)

    def unseal(self, blob: bytes) -> bytes:
        if blob[:1] != _VERSION:
            raise ValueError("unknown PII cipher version")
        return self._aead.decrypt(blob[1:13], blob[13:], _VERSION)

    def encrypt(self, plaintext: str) -> bytes:
        return self.seal(plaintext.encode())

    def decrypt(self, blob: bytes) -> str:
        return self.unseal(blob).decode()

    def digest(self, plaintext: str) -> str:
        return hmac.new(self._mac_key, plaintext.encode(), hashlib.sha256).hexdigest()
