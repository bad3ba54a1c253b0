"""Settings from the environment: each bad value, and each unknown FIELDVISIT_* variable, is
refused at start-up with a message naming the variable; good values arrive typed."""

import dataclasses

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from api.config import Config, ConfigError, Policy


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIELDVISIT_PAGE_SIZE_MAX", "many"),
        ("FIELDVISIT_ACCESS_TOKEN_TTL_S", "-1"),
        ("FIELDVISIT_DEBUG", "perhaps"),
        ("FIELDVISIT_DATABASE_URL", "mysql://db/fieldvisit"),
        ("FIELDVISIT_BLOB_STORE", "/srv/blobs"),
        ("FIELDVISIT_LOGIN_FAILURES_PER_USERNAME", "ten a minute"),
        ("FIELDVISIT_RATELIMIT_STORAGE_URI", "redis-server:6379"),
        ("FIELDVISIT_ARGON2_PROFILE", "FAST"),
        ("FIELDVISIT_METRICS_NETWORKS", "10.0.0.0/8,intranet"),
        ("FIELDVISIT_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as refused:
        Config.from_env({variable: value})
    lines = str(refused.value).splitlines()[1:]
    assert [line.strip().split(":")[0] for line in lines] == [variable]


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"FIELDVISIT_PAGE_SIZE_MAX": "many",
                         "FIELDVISIT_ACCESS_TOKEN_TTL_S": "-1"})
    message = str(refused.value)
    assert "FIELDVISIT_PAGE_SIZE_MAX: Input should be a valid integer" in message
    assert "'many'" in message
    assert "FIELDVISIT_ACCESS_TOKEN_TTL_S: Input should be greater than 0" in message


def test_a_policy_variable_points_to_policies_as_data():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"FIELDVISIT_POLICY_VISIT_HOURS_START": "09:00"})
    assert "FIELDVISIT_POLICY_VISIT_HOURS_START: not a fieldvisit setting; compliance " \
        "policies are data now" in str(refused.value)


@pytest.mark.parametrize("setting", [
    {"visit_hours_start": "25:99"}, {"visit_hours_end": "7"},
    {"visit_hours_end": "07:00"},  # before the 08:00 start
    {"geofence_radius_m": -50}, {"geofence_radius_m": float("nan")},
    {"min_collectors_per_visit": 0}, {"default_timezone": "Mars/Olympus"},
    {"daily_attempt_cap": -1}, {"attempts_counted": "letters"},
])
def test_a_bad_policy_setting_is_refused_naming_it(setting):
    with pytest.raises(ValidationError, match=next(iter(setting))):
        Policy(**setting)


def test_a_secret_is_never_echoed_in_the_refusal():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"FIELDVISIT_DATABASE_URL": "oracle://app:hunter2@db/x"})
    assert "FIELDVISIT_DATABASE_URL" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_misspelt_variable_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"FIELDVISIT_PAGE_SIZE": "50"})
    assert ("FIELDVISIT_PAGE_SIZE: not a fieldvisit setting; "
            "did you mean FIELDVISIT_PAGE_SIZE_MAX?") in str(refused.value)


def test_variables_of_other_programs_and_of_the_tests_are_left_alone():
    config = Config.from_env({"PATH": "/bin", "FIELDVISIT_VAR_DIR": "/srv",
                              "FIELDVISIT_TEST_ENGINES": "sqlite", "GUNICORN_CMD_ARGS": ""})
    assert config == Config()


def test_good_values_arrive_with_their_types():
    config = Config.from_env({
        "FIELDVISIT_DATABASE_URL": "postgresql+psycopg://app@db/fieldvisit",
        "FIELDVISIT_BLOB_STORE": "s3://evidence",
        "FIELDVISIT_S3_ENDPOINT_URL": "http://minio:9000",
        "FIELDVISIT_DEBUG": "on",
        "FIELDVISIT_PAGE_SIZE_MAX": "50",
        "fieldvisit_forwarded_hops": "1",  # names are case-insensitive
        "FIELDVISIT_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "FIELDVISIT_METRICS_NETWORKS": "10.0.0.0/8, 127.0.0.1",
    })
    assert config.database_url == "postgresql+psycopg://app@db/fieldvisit"
    assert config.blob_store == "s3://evidence"
    assert config.s3_endpoint_url == "http://minio:9000"
    assert config.debug is True
    assert config.page_size_max == 50
    assert config.forwarded_hops == 1
    assert config.ratelimit_storage_uri == "redis://127.0.0.1:6379"


def test_defaults_without_any_variable():
    config = Config.from_env({})
    assert config == Config()
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith(
        "fieldvisit.db")
    assert config.blob_store.startswith("local:")
    assert (config.debug, config.testing, config.pii_key) == (False, False, None)
    assert (Policy().visit_hours_start, Policy().visit_hours_end) == ("08:00", "22:00")
    assert Policy().geofence_radius_m == 200.0


def test_built_in_code_is_checked_too():
    with pytest.raises(ValidationError, match="geofence_radius_m"):
        Policy(geofence_radius_m=-1)
    with pytest.raises(ValidationError, match="page_size_max"):
        dataclasses.replace(Config(), page_size_max=0)


def test_the_server_command_refuses_to_start(monkeypatch):
    from api.cli import cli

    monkeypatch.setenv("FIELDVISIT_PAGE_SIZE_MAX", "many")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code != 0
    assert "FIELDVISIT_PAGE_SIZE_MAX" in result.output


def test_testing_mode_cannot_be_switched_on_from_the_environment():
    """Only code builds a test app; from the environment it would skip the key checks."""
    with pytest.raises(ConfigError, match="FIELDVISIT_TESTING: not a fieldvisit setting"):
        Config.from_env({"FIELDVISIT_TESTING": "1"})
