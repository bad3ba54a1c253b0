"""The server's keys: refusal to start on development keys, rotation lists, and the objects
built from them (PII cipher, blob store with its URL signing keys)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from api.config import DEV_SECRET_KEY, Config
from api.services.evidence.local_store import LocalBlobStore, verify_local_signature
from api.services.evidence.storage import BlobStore, blob_store_from_config, check_key
from api.services.exceptions import Forbidden
from api.services.identity.audit import AuditKeys
from api.services.identity.pii import PiiCipher

MIN_SECRET_LENGTH = 32
NEW_KEYS_HINT = "`fieldvisit keys new` prints fresh ones"


class InsecureConfiguration(RuntimeError):
    """The server would run with keys anyone can know, or without its own."""


def secret_keys(config: Config) -> list[str]:
    """The signing key first, then the previous keys still accepted."""
    previous = [k.strip() for k in config.previous_secret_keys.split(",") if k.strip()]
    return [config.secret_key, *previous]


def development_mode(config: Config) -> bool:
    return config.debug or config.testing


def check_keys(config: Config) -> None:
    """Outside debug and tests, refuse the built-in secret, short secrets and a missing or
    malformed PII or audit key (naming the variable to set)."""
    if development_mode(config):
        return
    for name, key in [("FIELDVISIT_SECRET_KEY", config.secret_key)] + [
        ("FIELDVISIT_PREVIOUS_SECRET_KEYS", k) for k in secret_keys(config)[1:]
    ]:
        if key == DEV_SECRET_KEY:
            raise InsecureConfiguration(
                f"{name} is the built-in development value: anyone could forge tokens and "
                f"download links. Set your own ({NEW_KEYS_HINT}), or FIELDVISIT_DEBUG=1 "
                "for development."
            )
        if len(key) < MIN_SECRET_LENGTH:
            raise InsecureConfiguration(
                f"{name} is shorter than {MIN_SECRET_LENGTH} characters ({NEW_KEYS_HINT})."
            )
    if not config.pii_key:
        raise InsecureConfiguration(
            "FIELDVISIT_PII_KEY is not set: national IDs need their own key, not one derived "
            f"from the secret key ({NEW_KEYS_HINT})."
        )
    try:
        PiiCipher.from_settings(config.pii_key, config.pii_lookup_key)
    except ValueError as exc:
        variable = "FIELDVISIT_PII_LOOKUP_KEY" if "lookup" in str(exc) else "FIELDVISIT_PII_KEY"
        raise InsecureConfiguration(f"{variable}: {exc} ({NEW_KEYS_HINT}).") from exc
    if not config.audit_key:
        raise InsecureConfiguration(
            "FIELDVISIT_AUDIT_KEY is not set: the audit chain's hashes need a key kept outside "
            f"the database, or anyone who can write it can rewrite them ({NEW_KEYS_HINT})."
        )
    try:
        AuditKeys.from_settings(config.audit_key)
    except ValueError as exc:
        raise InsecureConfiguration(f"FIELDVISIT_AUDIT_KEY: {exc} ({NEW_KEYS_HINT}).") from exc


def audit_keys(config: Config) -> AuditKeys:
    """The audit key ring; in development and tests without one, key 1 derived from the
    secret key."""
    if config.audit_key:
        return AuditKeys.from_settings(config.audit_key, strict=not development_mode(config))
    return AuditKeys.for_development(config.secret_key)


def pii_cipher(config: Config) -> PiiCipher:
    if config.pii_key:
        return PiiCipher.from_settings(
            config.pii_key, config.pii_lookup_key, strict=not development_mode(config)
        )
    return PiiCipher.for_development(config.secret_key)


def blob_store(config: Config, base_url: str) -> BlobStore:
    """The configured store; local signed URLs are signed with the first secret key and
    accepted under any listed one."""
    keys = secret_keys(config)
    store = blob_store_from_config(config.blob_store, config.s3_endpoint_url, keys[0], base_url)
    if isinstance(store, LocalBlobStore) and len(keys) > 1:
        return RotatingLocalBlobStore(store.root, keys, store.base_url)
    return store


class RotatingLocalBlobStore(LocalBlobStore):
    """A local store whose URLs verify under any of several keys (the first signs)."""

    def __init__(self, root: Path | str, secrets: list[str], base_url: str = ""):
        super().__init__(root, secrets[0], base_url)
        self._secrets = secrets

    def verify_signature(self, method: str, key: str, query: Mapping[str, str], *, now=None):
        for secret in self._secrets[:-1]:
            try:
                return verify_local_signature(secret, method, check_key(key), query, now=now)
            except Forbidden as exc:
                if exc.code != "bad_signature":
                    raise
        return verify_local_signature(self._secrets[-1], method, check_key(key), query, now=now)
