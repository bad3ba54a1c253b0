"""The keys a scale-bench database is sealed with and its server runs on.

Fixed (derived from a label), so a generated database can be kept and served again later; they
pass the server's production checks (`api.keys.check_keys`: no debug mode, a 32+ character
secret, base64 PII and audit keys of 32 bytes). Bench data only: never use them for anything
real."""

from __future__ import annotations

import base64
import hashlib

SECRET_KEY = hashlib.sha256(b"fieldvisit scale bench secret").hexdigest()  # 64 characters
PII_KEY = "1:" + base64.b64encode(hashlib.sha256(b"fieldvisit scale bench pii").digest()).decode()
AUDIT_KEY = ("1:" + base64.b64encode(hashlib.sha256(b"fieldvisit scale bench audit").digest())
             .decode())
PASSWORD = "scale-bench-password"


def server_env(database_url: str, blob_dir: str) -> dict[str, str]:
    """The FIELDVISIT_* variables of a production-like server on `database_url`."""
    return {
        "FIELDVISIT_DATABASE_URL": database_url,
        "FIELDVISIT_BLOB_STORE": f"local:{blob_dir}",
        "FIELDVISIT_SECRET_KEY": SECRET_KEY,
        "FIELDVISIT_PII_KEY": PII_KEY,
        "FIELDVISIT_AUDIT_KEY": AUDIT_KEY,
        "FIELDVISIT_LOG_LEVEL": "WARNING",
    }


def cipher():
    from api.services.identity.pii import PiiCipher

    return PiiCipher.from_settings(PII_KEY)
