"""Configuration from the environment, with embedded defaults (SQLite file, blobs on local disk)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_VAR = Path(os.environ.get("FIELDVISIT_VAR_DIR", "var")).resolve()
# Accepted only with FIELDVISIT_DEBUG or in tests: anyone can forge tokens signed with it.
DEV_SECRET_KEY = "dev-only-change-me"


def absolute_sqlite_url(url: str) -> str:
    """SQLite paths are taken relative to the working directory (Flask-SQLAlchemy would take
    them relative to the instance folder, Alembic to the working directory); the folder is
    created if missing."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite://" or url.startswith(prefix + "/"):
        if url.startswith(prefix + "/"):
            Path(url.removeprefix(prefix)).parent.mkdir(parents=True, exist_ok=True)
        return url
    path = Path(url.removeprefix(prefix)).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


@dataclass
class Policy:
    """Compliance policy defaults (China, 2026 industry guideline); overridable per deployment."""

    visit_hours_start: str = "08:00"
    visit_hours_end: str = "22:00"
    min_collectors_per_visit: int = 2
    geofence_radius_m: float = 200.0
    max_clock_offset_s: int = 300
    max_connected_calls_per_day: int = 3
    default_timezone: str = "Asia/Shanghai"


@dataclass
class Config:
    database_url: str = f"sqlite:///{DEFAULT_VAR / 'fieldvisit.db'}"
    blob_store: str = f"local:{DEFAULT_VAR / 'blobs'}"
    s3_endpoint_url: str | None = None
    # Outside debug and tests the server refuses to start without its own keys (api/keys.py).
    debug: bool = False
    testing: bool = False
    secret_key: str = DEV_SECRET_KEY  # signs access tokens, attestations and download URLs
    previous_secret_keys: str = ""  # comma-separated, still accepted (key rotation)
    pii_key: str | None = None  # "ID:KEY,ID:KEY": the first seals (api/services/identity/pii.py)
    pii_lookup_key: str | None = None  # keys national-ID lookup digests; default: PII key 1
    ratelimit_storage_uri: str = "memory://"  # `redis://host:6379` to share across workers
    login_failures_per_username: str = "10 per 15 minutes"
    login_failures_per_address: str = "100 per 15 minutes"
    forwarded_hops: int = 0  # proxies in front that set X-Forwarded-For (client address)
    argon2_profile: str = "RFC_9106_LOW_MEMORY"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    max_content_length: int = 1024 * 1024  # bodies of routes that declare no body_limit
    page_size_max: int = 200
    sync_lock_timeout_ms: int = 5000
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        values: dict = {}
        for f in fields(cls):
            raw = env.get(f"FIELDVISIT_{f.name.upper()}")
            if raw is None or f.name == "policy":
                continue
            if f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        policy = Policy()
        for f in fields(Policy):
            raw = env.get(f"FIELDVISIT_POLICY_{f.name.upper()}")
            if raw is not None:
                setattr(policy, f.name, type(getattr(policy, f.name))(raw))
        return cls(**values, policy=policy)
