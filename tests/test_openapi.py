"""openapi.yaml is generated from the code; this fails when the committed file drifts."""

from pathlib import Path

import yaml

from api import create_app
from api.config import Config

ROOT = Path(__file__).resolve().parent.parent


def current_spec() -> dict:
    app = create_app(Config(database_url="sqlite://", testing=True))
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


def test_committed_openapi_matches_the_code():
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert committed == current_spec(), "openapi.yaml is stale: run scripts/openapi"


def test_every_operation_has_a_summary_and_error_responses():
    spec = current_spec()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            codes = set(op["responses"])
            assert codes - {"200", "201", "204"}, f"{method.upper()} {path} documents no errors"
