"""The authorisation matrix, generated from the spec's `x-roles`: every operation × every role ×
someone else's ids (a case, field records, a file, a user and a device of another team).

- a role the operation's `x-roles` leaves out answers 403;
- a team-scoped role (collector, supervisor) that may call it, given another team's id, answers
  404 (or 403), never 2xx; a list never carries the other team's records;
- nothing answers 5xx.

The operation list is read from `openapi.yaml`, so a new endpoint is covered as soon as it is
documented; one with no `x-roles` fails unless it is listed in `PUBLIC` with a reason."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from sqlalchemy import select

from api.models import (
    BlackoutKind,
    Collateral,
    CollectorAuthorisation,
    DebtorBlackout,
    EvidenceFile,
    ExceptionItem,
    Job,
)
from api.models.types import utcnow
from api.services.supervision.exceptions_feed import ScanSettings, scan
from tests.api.test_routes import tomorrow
from tests.contract.conftest import ROLES, Seeded
from tests.field.conftest import finish_jobs
from tests.field.filing_records import KINDS, as_online
from tests.field.test_field_work import Phone

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC = {
    "POST /auth/login": "signing in needs no token",
    "POST /auth/refresh": "the refresh token is the credential",
    "GET /blobs/{key}": "a signed URL is the credential (tests/storage)",
    "PUT /blobs/{key}": "a signed URL is the credential (tests/storage)",
    "GET /healthz": "a load balancer's liveness probe (tests/ops)",
    "GET /readyz": "a load balancer's readiness probe, naming only checks (tests/ops)",
}
TEAM_SCOPED = {"collector", "supervisor"}
# path parameter -> which of the other team's things it is
# ids no team owns: roles decide (a team is a branch's code, name and zone, listed to supervisors
# and legal staff by GET /admin/teams: no team's secret)
GLOBAL_IDS = {"device_id", "user_id", "policy_id", "team_id"}
FOREIGN_KIND = {"proposal_id": "field_proposal", "file_id": "file", "case_id": "case"}
RECORD_KINDS = {  # list path of /<kind>/{record_id} -> the pushed record type
    "visits": "visit_report",
    "promises": "repayment_promise",
    "receipts": "field_receipt",
    "notices": "notice_served",
    "sightings": "vehicle_sighting",
    "repossessions": "repossession",
}
OPERATIONS = sorted((
    (method.upper(), path, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if method in METHODS
), key=lambda operation: operation[1] == "/auth/logout")  # last: it ends the caller's tokens


def test_every_operation_declares_its_roles_or_is_explicitly_public():
    undeclared = [
        f"{m} {p}" for m, p, op in OPERATIONS if "x-roles" not in op and f"{m} {p}" not in PUBLIC
    ]
    assert not undeclared, f"no x-roles and not listed as public: {undeclared}"
    stale = set(PUBLIC) - {f"{m} {p}" for m, p, _ in OPERATIONS}
    assert not stale, f"PUBLIC names operations the spec no longer has: {stale}"


def repossession(d) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "case_id": d["case"].id,
        "collateral_id": d["vehicle"].id,
        "recovered_at": "2026-11-21T03:10:00+08:00",
        "towed_by": "平安拖车",
    }


class Foreign:
    """The other team's things, filed through the real API by their collector."""

    def __init__(self, world, client, seeded: Seeded):
        case = seeded.their_cases[0]
        phone = Phone(client, world.login(seeded.their_users["collector"]))
        d = {
            "case": case,
            "home": case.debtor.addresses[0],
            "vehicle": world.app.extensions["sqlalchemy"]
            .session.execute(select(Collateral).where(Collateral.case_id == case.id))
            .scalar_one(),
        }
        self.d = d
        self.ids: dict[str, str | int] = {"case": case.id}
        for kind in sorted({*RECORD_KINDS.values(), "field_proposal"}):
            build = repossession if kind == "repossession" else KINDS[kind][2]
            result = phone.send(kind, build(d))
            assert result["status"] == "applied", result
            self.ids[kind] = result["record_id"]
        finish_jobs()  # the promise's PDF is made before the seeding writes again
        session = world.app.extensions["sqlalchemy"].session
        self.ids["file"] = session.scalars(select(EvidenceFile.id)).first()
        assert self.ids["file"], "the pushed records declared files"
        self.ids["user_id"] = seeded.their_users["supervisor"].id
        self.ids["team_id"] = seeded.their_users["supervisor"].team_id
        self.ids["device_id"] = seeded.their_devices[0]
        self.ids["run_id"] = 2**31 - 1
        self.ids["policy_id"] = 1  # policies are not a team's: the CN preset
        self.ids["route_id"] = their_route(world, client, seeded)
        self.ids["blackout_id"] = their_blackout(world, seeded)
        self.ids["authorisation_id"] = session.scalars(
            select(CollectorAuthorisation.id).where(
                CollectorAuthorisation.collector_id == seeded.their_users["collector"].id)
        ).one()
        self.ids["complaint_id"] = their_complaint(world, client, seeded)
        self.ids["hold_id"], self.ids["request_id"] = their_hold_and_request(client, seeded)
        self.ids["job_id"] = their_job(world, seeded)
        scan(session, utcnow(), ScanSettings())  # their records' items in the exceptions feed
        session.commit()
        self.ids["exception_id"] = session.scalars(
            select(ExceptionItem.id).where(ExceptionItem.team_id == seeded.theirs.id)
        ).first()
        assert self.ids["exception_id"], "their records raised exceptions"
        self.markers = {str(v) for k, v in self.ids.items() if isinstance(v, str)}
        self.markers |= {c.contract_no for c in seeded.their_cases} | {THEIR_COMPLAINT}

    def path_value(self, path: str, name: str):
        if name == "record_id":
            return self.ids[RECORD_KINDS[path.strip("/").split("/")[0]]]
        return self.ids[FOREIGN_KIND.get(name, name)]


def their_blackout(world, seeded: Seeded) -> int:
    """A blackout the other team's debtor declared, recorded by their supervisor."""
    session = world.app.extensions["sqlalchemy"].session
    row = DebtorBlackout(debtor_id=session.merge(seeded.their_cases[0]).debtor_id,
                         kind=BlackoutKind.TIME, weekdays="[7]",
                         recorded_by_id=seeded.their_users["supervisor"].id)
    session.add(row)
    session.commit()
    return row.id


def their_route(world, client, seeded: Seeded) -> int:
    """A published route plan of the other team's collector, made by their supervisor."""
    collector = seeded.their_users["collector"]
    session = world.app.extensions["sqlalchemy"].session
    collector = session.merge(collector)
    collector.base_lat, collector.base_lon = 22.54554, 114.0683
    session.commit()
    response = client.post(
        "/routes",
        headers=world.login(seeded.their_users["supervisor"]),
        json={"collector_id": collector.id, "day": tomorrow().isoformat(),
              "case_ids": [c.id for c in seeded.their_cases]},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["plans"][0]["id"]


def their_job(world, seeded: Seeded) -> int:
    """A background job their supervisor asked for (queued, never sent: it stays as it is)."""
    session = world.app.extensions["sqlalchemy"].session
    job = Job(kind="retention_purge", payload='{"dry_run": true}',
              created_by_id=seeded.their_users["supervisor"].id)
    session.add(job)
    session.commit()
    return job.id


THEIR_COMPLAINT = "Their collector called at 23:00 (matrix marker)."


def their_complaint(world, client, seeded: Seeded) -> int:
    """A complaint about the other team's case, recorded by their supervisor."""
    response = client.post(
        "/complaints",
        headers=world.login(seeded.their_users["supervisor"]),
        json={"case_id": seeded.their_cases[1].id, "received_at": "2026-11-20T10:00:00+08:00",
              "channel": "phone", "complainant": "debtor", "summary": THEIR_COMPLAINT,
              "category": "improper_hours"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def their_hold_and_request(client, seeded: Seeded) -> tuple[int, int]:
    """A legal hold on the other team's case and an export request about its debtor."""
    legal, case = seeded.bearer("legal"), seeded.their_cases[0]
    hold = client.post(f"/cases/{case.id}/legal-holds", headers=legal,
                       json={"kind": "litigation", "reference": "(2026)粤0304民初1号"})
    assert hold.status_code == 201, hold.get_json()
    request = client.post("/subject-requests", headers=legal, json={
        "kind": "export", "case_id": case.id, "requested_by": "the debtor",
        "received_at": "2026-12-01T09:00:00+08:00"})
    assert request.status_code == 201, request.get_json()
    return hold.get_json()["id"], request.get_json()["id"]


def filed_online(label: str, foreign: Foreign):
    """A real record body for the online-filing routes (the spec's `data` of a proposal is
    looser than the server's, so a generated one can be a 422 before the case is looked up)."""
    for kind, (path, *_rest) in KINDS.items():
        if label == f"POST /cases/{{case_id}}/{path}":
            return as_online(KINDS[kind][2](foreign.d), keep_case_id=False)
    if label == "POST /cases/{case_id}/repossessions":
        return as_online(repossession(foreign.d), keep_case_id=False)
    if label == "PUT /cases/{case_id}/reachability":
        return {"unreachable": True, "reason": "phones_off"}
    return NOT_SET


def valid_request(operation, path_parameters: dict, body=NOT_SET):
    """One request that passes the operation's schema (so a 422 cannot stand in for the 404)."""
    found = []
    strategy = operation.as_strategy(
        GenerationMode.POSITIVE, path_parameters=path_parameters, body=body
    )

    @settings(  # one example, the same every run
        max_examples=1,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def take(case):
        found.append(case)

    take()
    return found[0]


def test_every_operation_by_every_role_with_another_teams_ids(_app, world, client, seeded):
    foreign = Foreign(world, client, seeded)
    schema = schemathesis.openapi.from_dict(SPEC)
    schema.app = _app
    problems, calls = [], 0
    for method, path, op in OPERATIONS:
        label = f"{method} {path}"
        if label in PUBLIC:
            continue
        allowed = set(op["x-roles"])
        names = re.findall(r"{(\w+)}", path)
        params = {name: foreign.path_value(path, name) for name in names}
        case = valid_request(schema[path][method], params, filed_online(label, foreign))
        for role in ROLES:
            headers = {**seeded.bearer(role), "Accept-Encoding": "identity"}
            response = case.call(headers=headers)
            calls += 1
            status = response.status_code
            body = response.content.decode("utf-8", "replace")  # zips and files too
            where = f"{label} as {role} ({status}): {body[:200]}"
            if status >= 500:
                problems.append(f"server error: {where}")
            elif role not in allowed:
                if status != 403:
                    problems.append(f"expected 403 for a role x-roles leaves out: {where}")
            elif (
                role in TEAM_SCOPED
                and set(names) - GLOBAL_IDS
                and status not in (403, 404)
            ):
                problems.append(f"another team's id answered: {where}")
            if 200 <= status < 300 and role in TEAM_SCOPED:
                leaked = [m for m in foreign.markers if m in body]
                if leaked:
                    problems.append(f"another team's data {leaked} in: {where}")
    assert calls == len(ROLES) * (len(OPERATIONS) - len(PUBLIC))
    assert not problems, "\n".join(problems)


def test_without_a_token_every_protected_operation_is_a_401(_app, seeded):
    schema = schemathesis.openapi.from_dict(SPEC)
    schema.app = _app
    wrong = []
    for method, path, _ in OPERATIONS:
        if f"{method} {path}" in PUBLIC:
            continue
        params = {name: 1 if "id" in name else "x" for name in re.findall(r"{(\w+)}", path)}
        if "file_id" in params:
            params["file_id"] = str(uuid.uuid4())
        if "record_id" in params:
            params["record_id"] = str(uuid.uuid4())
        response = schema[path][method].Case(path_parameters=params).call(
            headers={"Accept-Encoding": "identity"}
        )
        if response.status_code != 401:
            wrong.append(f"{method} {path}: {response.status_code} {response.content[:200]!r}")
    assert not wrong, "\n".join(wrong)
