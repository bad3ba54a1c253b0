"""Finding a case by whatever is at hand, only among the cases one may see, masked and audited;
and legal staff revealing a debtor's full data for a stated purpose."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from api.extensions import db
from api.models import AuditEvent, Bucket
from api.services.casefile.search import CaseSearch, SearchKind, matching_case_ids
from tests.conftest import DATA


def vectors(name: str, expected: str = "valid") -> list[str]:
    """First column of the rows of a tests/data vector file with the given verdict."""
    rows = (line.split("\t") for line in (DATA / name).read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#"))
    return [row[0] for row in rows if len(row) > 1 and row[1] == expected]


IDS, PLATES, VINS = vectors("cn_ids.txt"), vectors("cn_plates.txt"), vectors("vins.txt")
ID_A, ID_B = "440308199901101512", "500154199804106120"  # both in cn_ids.txt, valid
VIN_A, VIN_B, VIN_C = "LSJA24U62JG269225", "LDC613P23A1305189", "LBV5S3102ESJ25655"
assert {ID_A, ID_B} <= set(IDS) and {VIN_A, VIN_B, VIN_C} <= set(VINS)
assert {"京AD92035", "甘G23459F", "鄂A96288"} <= set(PLATES)


def case_file(world, *, team, collector, name, national_id, mobile, contact_phone, plate, vin,
              bucket=Bucket.M2):
    """A factory case given its own identifiers (the factory's are shared by every case)."""
    case = world.case(team=team, collector=collector, bucket=bucket)
    debtor = case.debtor
    debtor.name = name
    debtor.national_id_cipher = world.cipher.encrypt(national_id)
    debtor.national_id_digest = world.cipher.digest(national_id)  # as import stores it
    debtor.national_id_last4 = national_id[-4:]
    debtor.mobile_phone, debtor.home_phone = mobile, None
    debtor.contacts[0].phone, debtor.contacts[1].phone = contact_phone, None
    case.collateral[0].plate, case.collateral[0].vin = plate, vin
    db.session.commit()
    return case


@pytest.fixture
def town(world):
    """Team A (a supervisor, a collector holding Li Jianguo's car loan, a colleague holding
    Wang Fang's), team B (a supervisor, a collector holding Li Jianjun's), a supervisor of an
    empty team C, legal staff and an admin."""
    team_a, team_b, team_c = world.team("A"), world.team("B"), world.team("C")
    people = {
        "holder": world.user("collector", team_a),
        "colleague": world.user("collector", team_a),
        "supervisor_a": world.user("supervisor", team_a),
        "supervisor_b": world.user("supervisor", team_b),
        "supervisor_c": world.user("supervisor", team_c),
        "outsider": world.user("collector", team_b),
        "legal": world.user("legal"),
        "admin": world.user("admin"),
    }
    cases = {
        "a": case_file(world, team=team_a, collector=people["holder"], name="李建国",
                       national_id=ID_A, mobile="13812345678", contact_phone="13987654321",
                       plate="京AD92035", vin=VIN_A),
        "b": case_file(world, team=team_b, collector=people["outsider"], name="李建军",
                       national_id=ID_B, mobile="13900001111", contact_phone="13700002222",
                       plate="甘G23459F", vin=VIN_B, bucket=Bucket.M3),
        "c": case_file(world, team=team_a, collector=people["colleague"], name="王芳",
                       national_id="44040119580101000X", mobile="0755-1234567",
                       contact_phone="13600003333", plate="鄂A96288", vin=VIN_C),
    }
    return {"people": people, "cases": cases,
            "headers": {name: world.login(user) for name, user in people.items()}}


def search(client, town, reader, q, extra="", status=200):
    response = client.get(f"/cases?q={quote(q)}{extra}", headers=town["headers"][reader])
    assert response.status_code == status, response.get_json()
    return response


def found(client, town, reader, q, extra="") -> dict[str, list[str]]:
    """{case letter: matched_on} of what `reader` finds with `q`."""
    letters = {case.id: letter for letter, case in town["cases"].items()}
    items = search(client, town, reader, q, extra).get_json()["items"]
    return {letters[item["id"]]: item["matched_on"] for item in items}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("京A·D9203 5", {"a": ["plate"]}),  # as written on a note: middle dot and a space
        ("甘G 23459F", {"b": ["plate"]}),
        (VIN_A, {"a": ["vin"]}),
        ("269225", {"a": ["vin_serial"]}),  # the last six of LSJA24U62JG269225
        ("j25655", {"c": ["vin_serial"]}),  # read aloud, typed in lower case
        (ID_A, {"a": ["national_id"]}),
        ("440308 19990110 1512", {"a": ["national_id"]}),
        ("44040119580101000x", {"c": ["national_id"]}),
        ("+86 138 1234 5678", {"a": ["phone"]}),
        ("0086-139-0000-1111", {"b": ["phone"]}),
        ("(0755) 1234567", {"c": ["phone"]}),  # a landline, stored as 0755-1234567
        ("+86 137 0000 2222", {"b": ["phone"]}),  # a contact's phone finds the debtor's case
        ("李建国", {"a": ["name"]}),
        ("李建", {"a": ["name"], "b": ["name"]}),  # a prefix of the name
        ("建国", {}),  # not a prefix: names match from their start only
    ],
)
def test_each_kind_finds_its_case(client, town, q, expected):
    assert found(client, town, "admin", q) == expected


def test_contract_number_and_lender_reference(client, town):
    a, b = town["cases"]["a"], town["cases"]["b"]
    assert found(client, town, "admin", a.contract_no) == {"a": ["contract_no"]}
    assert found(client, town, "admin", f"  {b.debtor.lender_ref} ") == {"b": ["lender_ref"]}


def test_a_query_of_several_kinds_finds_each(client, town):
    """"305189" is the serial of case b's VIN and, here, case c's contract number."""
    town["cases"]["c"].contract_no = "305189"
    db.session.commit()
    assert found(client, town, "admin", "305189") == {"b": ["vin_serial"], "c": ["contract_no"]}


@pytest.mark.parametrize(
    "reader, expected",
    [
        ("holder", {"a"}),
        ("colleague", set()),
        ("outsider", {"b"}),
        ("supervisor_a", {"a"}),
        ("supervisor_b", {"b"}),
        ("supervisor_c", set()),
        ("legal", {"a", "b"}),
        ("admin", {"a", "b"}),
    ],
)
def test_search_sees_only_what_the_reader_may_see(client, town, reader, expected):
    assert set(found(client, town, reader, "李建")) == expected
    # Someone else's case is not found by its exact identifiers either.
    for q in ("京AD92035", ID_A, "13812345678", VIN_A, town["cases"]["a"].contract_no):
        assert bool(found(client, town, reader, q)) is ("a" in expected)


@pytest.mark.parametrize("reader", ["holder", "supervisor_a", "admin"])
def test_results_carry_no_national_id_or_phone(client, town, reader, caplog):
    caplog.set_level(logging.DEBUG)
    for q in (ID_A, "+86 138 1234 5678", "13987654321"):
        body = search(client, town, reader, q).get_data(as_text=True)
        assert json.loads(body)["items"], q
        for secret in (ID_A, "13812345678", "12345678", "13987654321", "87654321"):
            assert secret not in body
    details = db.session.scalars(select(AuditEvent.detail)).all()
    assert len(details) == 3
    for secret in (ID_A, "13812345678", "12345678", "13987654321"):
        assert not any(secret in d for d in details)
        assert secret not in caplog.text


def test_a_search_is_audited_with_its_kinds_not_the_query(client, town, world):
    a = town["cases"]["a"]
    search(client, town, "admin", ID_A)
    search(client, town, "supervisor_c", "440308 19990110 1512")  # finds nothing: audited too
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [r.action for r in rows] == ["case.list", "case.list"]
    found_row, empty_row = (json.loads(r.detail) for r in rows)
    assert found_row["case_ids"] == [a.id] and empty_row["case_ids"] == []
    assert "national_id" in found_row["search"]["kinds"]
    # The keyed digest of the canonical form is the debtor's own: an auditor can ask "who
    # searched for this person's ID?" however it was typed, and the ID is stored nowhere.
    assert found_row["search"]["q_digest"] == a.debtor.national_id_digest
    assert not any(ID_A in r.detail or "19990110" in r.detail for r in rows)
    assert empty_row["search"] == found_row["search"]


@pytest.mark.parametrize("q", ["", "李", "  x  ", "A" * 65, "京" * 65])
def test_q_too_short_or_too_long_is_named(client, town, q):
    body = search(client, town, "admin", q, status=422).get_json()["error"]
    assert set(body["fields"]) == {"q"}
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_q_at_the_limits(client, town):
    assert found(client, town, "admin", "王芳") == {"c": ["name"]}
    assert found(client, town, "admin", "A" * 64) == {}


def test_search_combines_with_filters_and_pages(client, town):
    assert found(client, town, "admin", "李建", "&bucket=M2") == {"a": ["name"]}
    assert found(client, town, "admin", "李建", "&bucket=M3&bucket=M2") == {
        "a": ["name"], "b": ["name"]}
    team_b = town["people"]["supervisor_b"].team_id
    assert found(client, town, "admin", "李建", f"&team_id={team_b}") == {"b": ["name"]}
    body = search(client, town, "admin", "李建", "&page_size=1&page=2&sort=id").get_json()
    assert body["page"] == {"page": 2, "page_size": 1, "total": 2, "pages": 2}
    assert [i["id"] for i in body["items"]] == [town["cases"]["b"].id]
    near = "&near_lat=22.54554&near_lon=114.0683&radius_m=1000&sort=distance"
    assert set(found(client, town, "admin", "李建", near)) == {"a", "b"}


def test_lists_without_q_are_unchanged(client, town):
    items = client.get("/cases", headers=town["headers"]["admin"]).get_json()["items"]
    assert len(items) == 3 and all("matched_on" not in item for item in items)


# --------------------------------------------------------------------------- indexes


def pg_full_scans(plan: list[str]) -> list[str]:
    """Plan nodes that read a whole table or index: a Seq Scan, or an index scan with no
    Index Cond (with sequential scans off, PostgreSQL walks the primary key instead)."""
    nodes: list[list[str]] = []
    for line in plan:
        if "Scan" in line and ("->" in line or not nodes):
            nodes.append([line])
        elif nodes:
            nodes[-1].append(line)
    return [node[0].strip() for node in nodes
            if "Seq Scan" in node[0]
            or ("Index" in node[0] and not any("Index Cond" in d for d in node[1:]))]


@pytest.mark.parametrize(
    "kind, value",
    [
        (SearchKind.CONTRACT_NO, "HT-000001"),
        (SearchKind.LENDER_REF, "D1"),
        (SearchKind.NAME, "李建"),
        (SearchKind.PHONE, "13812345678"),
        (SearchKind.NATIONAL_ID, "0" * 64),
        (SearchKind.PLATE, "京AD92035"),
        (SearchKind.VIN, VIN_A),
        (SearchKind.VIN_SERIAL, "269225"),
    ],
)
def test_every_kind_is_an_index_lookup(session, town, kind, value):
    """No table is scanned. PostgreSQL is told to avoid sequential scans, which it still
    uses if no index can serve the query (the tables here are far too small to judge by)."""
    dialect = session.get_bind().dialect
    sql = str(matching_case_ids(CaseSearch({kind: value}, ""), dialect.name)
              .compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = list(session.scalars(text("EXPLAIN " + sql)))
        assert pg_full_scans(plan) == [], "\n".join(plan)
    else:
        plan = "\n".join(row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        # "SEARCH t USING INDEX" is a lookup; "SCAN t" (even "USING COVERING INDEX") reads all.
        assert not re.search(r"^\s*SCAN (cases|debtors|contacts|collateral)\b", plan, re.M), plan
    session.rollback()


# --------------------------------------------------------------------------- reveal

PURPOSE = {"purpose_code": "litigation",
           "purpose": "Statement of claim to the Futian District People's Court"}


@pytest.mark.parametrize(
    "reader, status",
    [("holder", 403), ("colleague", 403), ("supervisor_a", 403), ("supervisor_b", 403),
     ("legal", 200), ("admin", 200)],
)
def test_reveal_by_role(client, town, reader, status):
    a = town["cases"]["a"]
    response = client.post(f"/cases/{a.id}/reveal", json=PURPOSE, headers=town["headers"][reader])
    assert response.status_code == status, response.get_json()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.reveal")).all()
    if status == 403:
        assert rows == []
        return
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["debtor"]["national_id"] == ID_A
    assert body["debtor"]["mobile_phone"] == "13812345678"
    assert {c["phone"] for c in body["contacts"]} == {"13987654321", None}
    [row] = rows
    assert row.case_id == a.id and row.actor_id == town["people"][reader].id
    detail = json.loads(row.detail)
    assert detail == {"purpose_code": "litigation", "purpose": PURPOSE["purpose"]}
    assert ID_A not in row.detail and "13812345678" not in row.detail


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"purpose_code": "litigation"}, "purpose"),
        ({"purpose": PURPOSE["purpose"]}, "purpose_code"),
        ({**PURPOSE, "purpose": "curious"}, "purpose"),  # under 10 characters
        ({**PURPOSE, "purpose": "x" * 401}, "purpose"),
        ({**PURPOSE, "purpose_code": "marketing"}, "purpose_code"),
    ],
)
def test_reveal_needs_a_purpose(client, town, payload, field):
    a = town["cases"]["a"]
    response = client.post(f"/cases/{a.id}/reveal", json=payload, headers=town["headers"]["legal"])
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {field}
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_reveal_of_a_missing_case_is_404(client, town):
    response = client.post("/cases/999999/reveal", json=PURPOSE, headers=town["headers"]["legal"])
    assert response.status_code == 404
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_a_name_prefix_at_the_edge_of_the_surrogate_block_is_searched_not_a_500(client, world):
    headers = world.login(world.user("admin"))
    answer = client.get("/cases", query_string={"q": "ab\ud7ff"}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
