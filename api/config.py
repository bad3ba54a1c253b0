"""Configuration: embedded defaults (SQLite file, blobs on local disk), validated when built and
read from `FIELDVISIT_*` environment variables with pydantic-settings.

`Config` and `Policy` are (pydantic) dataclasses: `Config(database_url=..., testing=True)` and
`dataclasses.replace(config, ...)` validate like the environment does. `Config.from_env()`
refuses, naming each variable, any value that does not parse or is out of range, and any
`FIELDVISIT_*` variable that is not a setting (a misspelt one would otherwise be ignored)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

DEFAULT_VAR = Path(os.environ.get("FIELDVISIT_VAR_DIR", "var")).resolve()
# Accepted only with FIELDVISIT_DEBUG or in tests: anyone can forge tokens signed with it.
DEV_SECRET_KEY = "dev-only-change-me"
PREFIX = "FIELDVISIT_"
# Read elsewhere (paths, test and bench switches): not settings, but not misspellings either.
OTHER_VARIABLES = frozenset(
    PREFIX + name
    for name in ("VAR_DIR", "TEST_ENGINES", "TEST_PG_URL", "BENCH_PG_URL", "SIM_SEED",
                 "SIM_TRACE", "SLOW")
)
# Never echoed in an error message.
SECRET_SETTINGS = frozenset({"secret_key", "previous_secret_keys", "pii_key", "pii_lookup_key",
                             "audit_key", "metrics_token", "database_url"})


class ConfigError(ValueError):
    """Settings that do not parse, are out of range or are unknown; the message names each
    variable."""


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


# --- value checks -----------------------------------------------------------------------------

CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _time_of_day(value: str) -> str:
    if not CLOCK.fullmatch(value):
        raise ValueError("must be a time of day HH:MM, 00:00 to 23:59")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
    return value


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        raise ValueError("must be a URL: sqlite:///path or postgresql+psycopg://...") from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"must be a SQLite or PostgreSQL URL, not {backend}")
    return value


def _blob_store(value: str) -> str:
    bucket = value.removeprefix("s3://").strip("/")
    local = value.startswith("local:") and value.removeprefix("local:")
    if not (local or (value.startswith("s3://") and bucket and "/" not in bucket)):
        raise ValueError("must be 'local:DIR' or 's3://bucket'")
    return value


def _rate(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("must be a rate such as '10 per 15 minutes'") from None
    return value


def _storage_uri(value: str) -> str:
    from limits.storage import SCHEMES

    if value.split("://", 1)[0] not in SCHEMES or "://" not in value:
        raise ValueError("must be a limits storage URI: memory:// or redis://host:6379")
    return value


def _job_broker(value: str) -> str:
    if value != "inprocess" and not value.startswith(("redis://", "rediss://", "amqp://",
                                                       "amqps://")):
        raise ValueError("must be 'inprocess', redis://host:6379/0 or amqp://user:pass@host:5672")
    return value


def _queue_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
        raise ValueError("must be 1 to 64 letters, digits, '.', '_' or '-'")
    return value


def _argon2_profile(value: str) -> str:
    from argon2 import profiles

    names = [n for n in dir(profiles) if n.isupper()]
    if value not in names:
        raise ValueError(f"must be one of {', '.join(names)}")
    return value


def _networks(value: str) -> str:
    for item in filter(None, (v.strip() for v in value.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not a network such as 10.0.0.0/8") from None
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]
Positive = Annotated[int, Field(gt=0)]
NotNegative = Annotated[int, Field(ge=0)]


# --- the settings -----------------------------------------------------------------------------


@dataclass
class Policy:
    """One compliance policy version's rule settings and identity. Policies are data, not
    settings: stored per jurisdiction and lender with dated versions
    (api.services.compliance.policies, `GET /policies`); the defaults here are the CN preset's."""

    # Which policy version this is (api.services.compliance.policies resolves it per case).
    name: str = "cn-default"
    version: Positive = 1
    version_id: int | None = None  # policy_versions.id once stored; recorded on verdicts

    visit_hours_start: TimeOfDay = "08:00"
    visit_hours_end: TimeOfDay = "22:00"
    contact_hours_start: TimeOfDay = "08:00"  # calls and messages, debtor-local
    contact_hours_end: TimeOfDay = "22:00"
    min_collectors_per_visit: Positive = 2
    # Two presences pair as one visit's co-collectors within this distance and time.
    co_presence_max_distance_m: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 100.0
    co_presence_max_gap_s: Annotated[int, Field(gt=0, le=24 * 3600)] = 900  # at most a day
    geofence_radius_m: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 200.0
    max_clock_offset_s: NotNegative = 300
    # Attempt caps per debtor; None: no cap. What counts is `attempts_counted`.
    daily_attempt_cap: NotNegative | None = 3
    weekly_attempt_cap: NotNegative | None = None  # 7 consecutive days
    attempts_counted: Literal["connected_calls", "calls", "calls_and_visits"] = "connected_calls"
    contacts_only_when_unreachable: bool = True
    collector_authorisation_required: bool = True
    block_dispatch_on_open_complaint: bool = True
    retention_days: Positive = 730  # collection records kept after the case closes
    default_timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"

    @property
    def ref(self) -> str:
        """How a verdict names the policy version it was judged under: `cn-default@1`."""
        return f"{self.name}@{self.version}"

    @field_validator("visit_hours_end", "contact_hours_end")
    @classmethod
    def _after_start(cls, end: str, info: ValidationInfo) -> str:
        name = info.field_name.removesuffix("_end") + "_start"
        start = info.data.get(name)
        if start is not None and end <= start:
            raise ValueError(f"must be later than {name} ({start})")
        return end


@dataclass
class Config:
    database_url: Annotated[str, AfterValidator(_database_url)] = (
        f"sqlite:///{DEFAULT_VAR / 'fieldvisit.db'}"
    )
    blob_store: Annotated[str, AfterValidator(_blob_store)] = f"local:{DEFAULT_VAR / 'blobs'}"
    s3_endpoint_url: Annotated[str | None, AfterValidator(_http_url)] = None
    # Outside debug and tests the server refuses to start without its own keys (api/keys.py).
    debug: bool = False
    testing: bool = False
    secret_key: str = DEV_SECRET_KEY  # signs access tokens, attestations and download URLs
    previous_secret_keys: str = ""  # comma-separated, still accepted (key rotation)
    pii_key: str | None = None  # "ID:KEY,ID:KEY": the first seals (api/services/identity/pii.py)
    pii_lookup_key: str | None = None  # keys national-ID lookup digests; default: PII key 1
    # "ID:KEY,ID:KEY": keys the audit chain's HMACs and signs its heads; the first keys new rows
    # (api/services/identity/audit.py)
    audit_key: str | None = None
    # `redis://host:6379` to share across workers
    ratelimit_storage_uri: Annotated[str, AfterValidator(_storage_uri)] = "memory://"
    login_failures_per_username: Annotated[str, AfterValidator(_rate)] = "10 per 15 minutes"
    login_failures_per_address: Annotated[str, AfterValidator(_rate)] = "100 per 15 minutes"
    forwarded_hops: Annotated[int, Field(ge=0, le=10)] = 0  # proxies that set X-Forwarded-For
    force_hsts: bool = False  # send Strict-Transport-Security even when TLS ends at a proxy
    argon2_profile: Annotated[str, AfterValidator(_argon2_profile)] = "RFC_9106_LOW_MEMORY"
    access_token_ttl_s: Positive = 900
    refresh_token_ttl_s: Positive = 30 * 24 * 3600
    max_content_length: Positive = 1024 * 1024  # bodies of routes that declare no body_limit
    page_size_max: Positive = 200
    sync_lock_timeout_ms: NotNegative = 5000
    # Background jobs (api/jobs): worker threads in the server process, or a broker that
    # `fieldvisit worker` processes take them from.
    job_broker: Annotated[str, AfterValidator(_job_broker)] = "inprocess"
    job_threads: Annotated[int, Field(ge=1, le=64)] = 2
    # The broker's queue: instances (tenants) sharing one broker each name their own.
    job_queue: Annotated[str, AfterValidator(_queue_name)] = "fieldvisit"
    # A failed job with retries left (a promise's PDF, a thumbnail) is tried again after this,
    # doubling each time (at most 5 minutes).
    job_retry_backoff_ms: Annotated[int, Field(ge=1, le=300_000)] = 2000
    # Lender imports (docs/import-format.md): records per committed chunk of an import job (a
    # phone's delta waits for one chunk at most), and the largest file an atomic run may take
    # (it is one transaction).
    import_chunk_rows: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    import_atomic_max_rows: NotNegative = 20_000
    # An evidence pack of more received files than this is built by a job, not streamed.
    evidence_pack_stream_max_files: NotNegative = 100
    # The exceptions feed lists a collector's phone that has not synced for this long.
    device_silent_after_hours: Annotated[int, Field(gt=0, le=24 * 365)] = 48
    # Logs (api/observability.py): JSON lines on stderr at this level.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # GET /metrics: open unless a bearer token or client networks are set (either admits).
    metrics_token: str | None = None
    metrics_networks: Annotated[str, AfterValidator(_networks)] = ""  # "10.0.0.0/8,127.0.0.1"
    # The web console's map tiles, e.g. "https://tile.example.org/{z}/{x}/{y}.png"; none: a blank
    # background under the markers and routes (api/console.py).
    console_tile_url: Annotated[str | None, AfterValidator(_http_url)] = None

    ENV_PREFIX: ClassVar[str] = PREFIX

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Settings from `env` (default: the process environment); `ConfigError` naming every
        variable refused."""
        env = dict(os.environ if env is None else env)
        problems = _unknown_variables(env)
        try:
            model = _settings_model()
            settings = model(**_MappingEnvSource(model, env)())
        except ValidationError as exc:
            problems += [_describe(error) for error in exc.errors()]
        if problems:
            raise ConfigError("Settings refused:\n  " + "\n  ".join(problems))
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


# Set by code, never by the environment: `testing` lets a test app run without its own keys.
CODE_ONLY = frozenset({"testing"})


def variable_names() -> dict[str, str]:
    """Every setting's variable name and its field name."""
    return {PREFIX + f.name.upper(): f.name for f in fields(Config) if f.name not in CODE_ONLY}


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    known = set(variable_names()) | OTHER_VARIABLES
    problems = []
    for name in sorted(n for n in env if n.upper().startswith(PREFIX)):
        if name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            if name.upper().startswith(f"{PREFIX}POLICY_"):
                hint = ("; compliance policies are data now: change them with "
                        "POST /policies/{policy_id}/versions (docs/compliance-matrix.md)")
            problems.append(f"{name}: not a fieldvisit setting{hint}")
    return problems


def _describe(error: Mapping[str, Any]) -> str:
    path = [str(part) for part in error["loc"]]
    variable = PREFIX + "_".join(path).upper()
    message = error["msg"].removeprefix("Value error, ")
    if path and path[-1] not in SECRET_SETTINGS and isinstance(error.get("input"), str):
        message += f" (got {error['input']!r})"
    return f"{variable}: {message}"


class _MappingEnvSource(EnvSettingsSource):
    """The environment source, reading a given mapping (so `from_env(dict)` is testable)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]):
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._mapping.items()}


class _EnvSettings(BaseSettings):
    """`FIELDVISIT_<NAME>`; fields come from Config."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        case_sensitive=False,
        extra="ignore",
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings,)  # from_env passes what _MappingEnvSource read


_MODEL: type[_EnvSettings] | None = None


def _settings_model() -> type[_EnvSettings]:
    """A settings class with Config's fields (types, defaults and checks): one definition."""
    global _MODEL
    if _MODEL is None:
        from pydantic import create_model

        definitions = {
            name: (info.annotation, info)
            for name, info in Config.__pydantic_fields__.items()  # type: ignore[attr-defined]
        }
        _MODEL = create_model("FieldvisitSettings", __base__=_EnvSettings, **definitions)
    return _MODEL
