"""Who may be dispatched to a case, through the API: a collector is assigned or planned only on
a day an authorisation of theirs covers the case's lender and jurisdiction
(`collector_authorised`), and nobody is sent while a complaint about the case is open
(`open_complaint_no_dispatch`). Each refusal is a `rule_breach` naming the rule, the policy
version and why, and saves nothing.

An assignment is dispatched today, team-local (Asia/Shanghai): the boundary is an expiry
of today (still valid) against yesterday (expired the day before). A plan is dispatched on its
day: an expiry of that day against the day before."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import Case, CollectorAuthorisation, RoutePlan
from api.services.compliance.presets import PRESETS
from tests.api.test_routes import SHENZHEN, based, near, tomorrow

CN = PRESETS["CN"]
LENDER = "acme"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def lend(case: Case, lender: str = LENDER, jurisdiction: str = "CN") -> Case:
    case = db.session.merge(case)
    case.lender, case.jurisdiction = lender, jurisdiction
    db.session.commit()
    return case


@pytest.fixture
def desk(world):
    """A Shenzhen team: a supervisor, an authorised collector holding three acme cases, and a
    collector `li` with no authorisation at all (each test grants what it proves)."""
    team = world.team()
    holder = based(world, team)
    li = world.user("collector", team, authorised=False)
    li.full_name, li.base_lat, li.base_lon = "Li Wei", *SHENZHEN
    db.session.commit()
    cases = [lend(world.case(collector=holder, lat=p[0], lon=p[1]))
             for p in (near(SHENZHEN, *o) for o in [(1, 0), (0, 2), (-1, -1)])]
    return {
        "team": team, "holder": holder, "li": li, "cases": cases,
        "boss": world.login(world.user("supervisor", team)),
        "admin": world.login(world.user("admin")),
    }


def assign(client, desk, case, collector=None):
    collector = desk["li"] if collector is None else collector
    return client.put(f"/cases/{case.id}/assignment", headers=desk["boss"],
                      json={"collector_id": collector.id, "reason": "cover"})


def holder_of(case) -> int | None:
    db.session.expire_all()
    return db.session.get(Case, case.id).collector_id


def breach(response, rule: str) -> dict:
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["rule"]) == ("rule_breach", rule), error
    return error


# ---------------------------------------------------------------- one case, authorisations

GRANTS = {
    "valid to the end of today": ({"expires_on": 0}, None),
    "any lender": ({"lender": "*"}, None),
    "expired yesterday": ({"expires_on": -1}, "certificate CERT-7 for lender acme in CN expired "
                                               "on {-1}."),
    "valid only from tomorrow": ({"valid_from": 1}, "is valid only from {1}"),
    "another lender": ({"lender": "beta"}, "Li Wei holds no authorisation for lender acme in CN."),
    "another jurisdiction": ({"jurisdiction": "US"}, "holds no authorisation for lender acme in "
                                                       "CN."),
    "none": (None, "Collector Li Wei holds no authorisation for lender acme in CN."),
}


def terms(grant: dict, day: date) -> dict:
    """A grant with day offsets (relative to `day`) turned into dates."""
    out = {"lender": LENDER, "valid_from": day - timedelta(days=30), "certificate_no": "CERT-7"}
    for key, value in grant.items():
        out[key] = day + timedelta(days=value) if isinstance(value, int) else value
    return out


def expected(sentence: str, day: date) -> str:
    for offset in (-1, 1):
        sentence = sentence.replace(f"{{{offset}}}", (day + timedelta(days=offset)).isoformat())
    return sentence


@pytest.mark.rule("collector_authorised", preset="CN")
@pytest.mark.parametrize("name", list(GRANTS))
def test_a_case_goes_only_to_a_collector_authorised_for_its_lender_today(
        client, world, desk, name):
    grant, refusal = GRANTS[name]
    if grant is not None:
        world.authorise(desk["li"], **terms(grant, today()))
    case = desk["cases"][0]
    response = assign(client, desk, case)
    if refusal is None:
        assert response.status_code == 200, response.get_json()
        assert holder_of(case) == desk["li"].id
        return
    error = breach(response, "collector_authorised")
    assert expected(refusal, today()) in error["message"]
    assert error["fields"]["collector_id"] == [error["message"]]
    assert holder_of(case) == desk["holder"].id


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_revoked_authorisation_no_longer_dispatches_and_the_body_names_the_policy_version(
        client, world, desk, use_policy):
    version = use_policy(dataclasses.replace(CN, visit_hours_end="21:00"))
    li = desk["li"]
    granted = client.post(f"/admin/users/{li.id}/authorisations", headers=desk["admin"], json={
        "certificate_no": "CBA-2026-004211", "lender": LENDER,
        "valid_from": (today() - timedelta(days=90)).isoformat()})
    assert granted.status_code == 201, granted.get_json()
    first, second, _ = desk["cases"]
    assert assign(client, desk, first).status_code == 200

    revoked = client.post(
        f"/admin/users/{li.id}/authorisations/{granted.get_json()['id']}/revoke",
        headers=desk["admin"], json={"reason": "certificate withdrawn"})
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_at"] is not None
    error = breach(assign(client, desk, second), "collector_authorised")
    assert (error["policy"], error["policy_version"]) == (version.name, version.version)
    assert version.version >= 1 and error["policy"] == "cn-default"
    assert error["message"] == (
        f"Collector Li Wei's certificate CBA-2026-004211 for lender acme in CN was revoked on "
        f"{revoked.get_json()['revoked_at'][:10]}.")
    assert holder_of(second) == desk["holder"].id
    assert holder_of(first) == li.id  # a case already given is not taken back
    again = client.post(
        f"/admin/users/{li.id}/authorisations/{granted.get_json()['id']}/revoke",
        headers=desk["admin"], json={"reason": "twice"})
    assert again.status_code == 409
    listed = client.get(f"/admin/users/{li.id}/authorisations", headers=desk["admin"])
    assert [a["certificate_no"] for a in listed.get_json()["items"]] == ["CBA-2026-004211"]


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_policy_that_does_not_require_authorisation_lets_anyone_be_assigned(
        client, desk, use_policy):
    use_policy(dataclasses.replace(CN, collector_authorisation_required=False))
    case = desk["cases"][0]
    assert assign(client, desk, case).status_code == 200
    assert holder_of(case) == desk["li"].id


@pytest.mark.rule("collector_authorised", preset="CN")
def test_the_authorisation_api_is_for_admins_and_names_bad_fields(client, world, desk):
    li = desk["li"]
    url = f"/admin/users/{li.id}/authorisations"
    body = {"certificate_no": "C-1", "valid_from": "2026-01-01"}
    assert client.post(url, headers=desk["boss"], json=body).status_code == 403
    assert client.get(url, headers=desk["boss"]).status_code == 403
    for bad, field in [({"expires_on": "2025-12-31"}, "expires_on"),
                       ({"jurisdiction": "china"}, "jurisdiction"),
                       ({"lender": "a b"}, "lender"), ({"valid_from": "1900-01-01"}, "valid_from")]:
        response = client.post(url, headers=desk["admin"], json={**body, **bad})
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["error"]["fields"]
    supervisor = world.user("supervisor", desk["team"])
    response = client.post(f"/admin/users/{supervisor.id}/authorisations",
                           headers=desk["admin"], json=body)
    assert response.status_code == 422 and "user_id" in response.get_json()["error"]["fields"]
    assert client.post(f"/admin/users/{2**31 - 1}/authorisations", headers=desk["admin"],
                       json=body).status_code == 404
    other = world.user("collector")
    theirs = db.session.scalar(select(CollectorAuthorisation.id).where(
        CollectorAuthorisation.collector_id == other.id))
    response = client.post(f"/admin/users/{li.id}/authorisations/{theirs}/revoke",
                           headers=desk["admin"], json={"reason": "not li's"})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CollectorAuthorisation).where(
        CollectorAuthorisation.collector_id == li.id)) == 0


def test_a_collector_created_through_the_admin_api_holds_no_authorisation(client, desk):
    created = client.post("/admin/users", headers=desk["admin"], json={
        "username": "zhang", "full_name": "Zhang San", "role": "collector",
        "team_id": desk["team"].id, "password": "a long password"})
    assert created.status_code == 201
    listed = client.get(f"/admin/users/{created.get_json()['id']}/authorisations",
                        headers=desk["admin"])
    assert listed.get_json()["items"] == []


# ----------------------------------------------------------------------------- in bulk


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_bulk_assignment_names_every_unauthorised_case_and_changes_nothing(
        client, world, desk):
    li = desk["li"]
    world.authorise(li, lender=LENDER, expires_on=today())  # acme: valid today, its last day
    acme, beta, us = desk["cases"]
    lend(beta, "beta")
    lend(us, LENDER, "US")
    response = client.post("/assignments", headers=desk["boss"], json={
        "case_ids": [acme.id, beta.id, us.id, 2**31 - 1], "collector_id": li.id,
        "reason": "cover"})
    error = breach(response, "collector_authorised")
    assert error["message"].startswith("3 of 4 cases cannot be assigned; nothing was changed.")
    problems = error["fields"]["case_ids"]
    assert f"no such case, or not yours to assign: {2**31 - 1}" in problems
    assert f"Collector Li Wei holds no authorisation for lender beta in CN. (case {beta.id})" \
        in problems
    assert f"Collector Li Wei holds no authorisation for lender acme in US. (case {us.id})" \
        in problems
    assert len(problems) == 3  # nothing about the acme case, which Li Wei may take
    assert [holder_of(c) for c in (acme, beta, us)] == [desk["holder"].id] * 3

    fine = client.post("/assignments", headers=desk["boss"], json={
        "case_ids": [acme.id], "collector_id": li.id, "reason": "cover"})
    assert fine.status_code == 200, fine.get_json()
    assert holder_of(acme) == li.id


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_bulk_assignment_the_day_after_expiry_is_refused_for_every_case(client, world, desk):
    li = desk["li"]
    world.authorise(li, lender=LENDER, expires_on=today() - timedelta(days=1))
    ids = [c.id for c in desk["cases"]]
    error = breach(client.post("/assignments", headers=desk["boss"], json={
        "case_ids": ids, "collector_id": li.id, "reason": "cover"}), "collector_authorised")
    [line] = error["fields"]["case_ids"]
    assert line.endswith(f"expired on {today() - timedelta(days=1)}. (cases "
                         f"{', '.join(map(str, ids))})")
    # Back to the team's queue is no dispatch: allowed.
    queued = client.post("/assignments", headers=desk["boss"], json={
        "case_ids": ids, "collector_id": None, "reason": "cover"})
    assert queued.status_code == 200, queued.get_json()


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_bulk_assignment_after_revocation_is_refused(client, world, desk):
    li = desk["li"]
    row = world.authorise(li, lender=LENDER)
    revoked = client.post(f"/admin/users/{li.id}/authorisations/{row.id}/revoke",
                          headers=desk["admin"], json={"reason": "left the agency"})
    assert revoked.status_code == 200
    ids = [c.id for c in desk["cases"]]
    error = breach(client.post("/assignments", headers=desk["boss"], json={
        "case_ids": ids, "collector_id": li.id, "reason": "cover"}), "collector_authorised")
    [line] = error["fields"]["case_ids"]
    assert f"certificate CERT-{li.id} for lender acme in CN was revoked on" in line
    assert [holder_of(c) for c in desk["cases"]] == [desk["holder"].id] * 3


# ----------------------------------------------------------------------------- plans


def plan_for(client, desk, collector, day, distribute=False):
    return client.post("/routes", headers=desk["boss"], json={
        "collector_ids" if distribute else "collector_id":
            [collector.id, desk["holder"].id] if distribute else collector.id,
        "day": day.isoformat(), "case_ids": [c.id for c in desk["cases"]],
        "distribute": distribute})


def plans() -> int:
    return db.session.scalar(select(func.count()).select_from(RoutePlan))


@pytest.mark.rule("collector_authorised", preset="CN")
@pytest.mark.parametrize("expiry, allowed", [(0, True), (-1, False)])
def test_a_plan_for_a_day_needs_an_authorisation_valid_that_day(
        client, world, desk, expiry, allowed):
    day = tomorrow()
    li = desk["li"]
    world.authorise(li, lender=LENDER, expires_on=day + timedelta(days=expiry))
    for case in desk["cases"]:
        db.session.merge(case).collector_id = li.id
    db.session.commit()
    response = plan_for(client, desk, li, day)
    if allowed:
        assert response.status_code == 201, response.get_json()
        return
    error = breach(response, "collector_authorised")
    assert error["message"] == (f"Collector Li Wei's certificate CERT-{li.id} for lender acme "
                                f"in CN expired on {day - timedelta(days=1)}.")
    assert set(error["fields"]) == {f"case_ids.{i}" for i in range(3)}
    assert plans() == 0


@pytest.mark.rule("collector_authorised", preset="CN")
@pytest.mark.parametrize("grant", ["wrong lender", "wrong jurisdiction", "revoked"])
def test_a_distributed_plan_is_refused_when_one_of_its_collectors_may_not_take_a_case(
        client, world, desk, grant):
    li = desk["li"]
    row = world.authorise(li, **{"wrong lender": {"lender": "beta"},
                                 "wrong jurisdiction": {"jurisdiction": "IN"},
                                 "revoked": {"lender": LENDER}}[grant])
    if grant == "revoked":
        row = db.session.merge(row)
        row.revoked_at = datetime.now(ZoneInfo("UTC")) - timedelta(days=1)
        db.session.commit()
    error = breach(plan_for(client, desk, li, tomorrow(), distribute=True),
                   "collector_authorised")
    assert "Li Wei" in error["message"] and plans() == 0
    if grant == "revoked":
        assert "was revoked on" in error["message"]
    world.authorise(li, lender=LENDER)
    assert plan_for(client, desk, li, tomorrow(), distribute=True).status_code == 201


@pytest.mark.rule("collector_authorised", preset="CN")
def test_a_replan_is_refused_after_revocation_until_the_stop_is_cancelled(client, world, desk):
    holder = desk["holder"]
    first = plan_for(client, desk, holder, tomorrow())
    assert first.status_code == 201, first.get_json()
    plan_id = first.get_json()["plans"][0]["id"]
    row = db.session.scalar(select(CollectorAuthorisation).where(
        CollectorAuthorisation.collector_id == holder.id))
    row.lender = "beta"  # their certificate covers another lender only
    db.session.commit()
    lend(desk["cases"][1], "beta")
    lend(desk["cases"][2], "beta")
    refused = client.post(f"/routes/{plan_id}/replan", headers=desk["boss"], json={})
    error = breach(refused, "collector_authorised")
    assert error["fields"]["cancelled_case_ids"] == [
        f"Collector {holder.full_name} holds no authorisation for lender acme in CN. "
        f"(case {desk['cases'][0].id})"]
    assert plans() == 1
    done = client.post(f"/routes/{plan_id}/replan", headers=desk["boss"],
                       json={"cancelled_case_ids": [desk["cases"][0].id]})
    assert done.status_code == 201, done.get_json()


# ----------------------------------------------------------------------------- suggestions


@pytest.mark.rule("collector_authorised", preset="CN")
def test_suggestions_name_only_an_authorised_collector(client, world, desk):
    """Li Wei's base is on the debtor's doorstep, the holder's 30 km away: Li Wei would be
    suggested for a case nobody holds, but only once authorised."""
    holder, li = desk["holder"], desk["li"]
    holder = db.session.merge(holder)
    holder.base_lat, holder.base_lon = near(SHENZHEN, 30, 0)
    case = db.session.merge(desk["cases"][0])
    case.collector_id = None
    db.session.commit()

    def suggestion():
        response = client.get("/assignments/suggestions", headers=desk["boss"])
        assert response.status_code == 200, response.get_json()
        return next(i for i in response.get_json()["items"] if i["case_id"] == case.id)

    unauthorised = suggestion()
    assert unauthorised["suggested_collector"]["collector_id"] == holder.id
    assert [c["collector_id"] for c in unauthorised["candidates"]] == [holder.id]
    assert unauthorised["dispatch_blocked"] is None
    world.authorise(li, lender=LENDER)
    assert suggestion()["suggested_collector"]["collector_id"] == li.id

    row = db.session.scalar(select(CollectorAuthorisation).where(
        CollectorAuthorisation.collector_id == holder.id))
    row.expires_on = today() - timedelta(days=1)
    db.session.merge(li).is_active = False
    db.session.commit()
    nobody = suggestion()
    assert nobody["suggested_collector"] is None and nobody["candidates"] == []
    assert nobody["dispatch_blocked"] == (
        f"No collector of the team may be sent: none is authorised for lender acme in CN on "
        f"{today()}.")


@pytest.mark.rule("collector_authorised", preset="US")
def test_an_import_gives_a_case_only_to_a_collector_authorised_for_its_lender_and_law(
        world, client):
    team = world.team("IMP-1")
    li = world.user("collector", team, username="li.wei")  # the standard authorisation: CN
    admin = world.login(world.user("admin"))

    def case(contract_no: str, jurisdiction: str, national_id: str) -> dict:
        return {"contract_no": contract_no, "product": "consumer_loan", "principal_fen": 500_000,
                "lender": "midwest-credit", "jurisdiction": jurisdiction,
                "team_code": "IMP-1", "collector_username": "li.wei",
                "debtor": {"ref": f"D-{contract_no}", "name": "Pat Doe",
                           "national_id": national_id}}

    document = {"format": "fieldvisit.cases.v1", "as_of": "2026-11-21", "cases": [
        case("IMP-CN-1", "CN", "11010519491231002X"), case("IMP-US-1", "US", "110101199003074477")]}
    run = client.post("/imports", headers=admin, json=document,
                      query_string={"kind": "cases"}).get_json()
    assert run["created"] == 1, run
    [error] = run["errors"]
    assert (error["contract_no"], error["field"]) == ("IMP-US-1", "collector_username")
    assert "holds no authorisation for lender midwest-credit in US" in error["message"]
    assert db.session.scalar(select(Case.collector_id).where(
        Case.contract_no == "IMP-CN-1")) == li.id
    assert db.session.scalar(select(func.count()).where(Case.contract_no == "IMP-US-1")) == 0

    world.authorise(li, jurisdiction="US", lender="midwest-credit")
    again = client.post("/imports", headers=admin, json=document,
                        query_string={"kind": "cases"}).get_json()
    assert (again["created"], again["errors"]) == (1, []), again
