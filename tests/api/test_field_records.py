"""Supervisors, legal staff and collectors read back what the field recorded: every record goes
in through the real `/sync/push`, and comes back only to those who may see its case."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from api.extensions import db
from api.models import Address, AuditEvent, Collateral, PromiseStatus, RepaymentPromise
from tests.field.conftest import finish_jobs, upload_and_complete
from tests.field.test_field_work import HOME, Phone, cosign, photo, promise, report

FAR = (HOME[0] + 0.01, HOME[1])  # ~1.1 km north of the home address


class Desk:
    """Two teams, their supervisors, legal and an admin, and three cases with phones."""

    def __init__(self, world, client):
        self.world, self.client = world, client
        self.team_a, self.team_b = world.team(), world.team()
        self.alice = world.user("collector", self.team_a)
        self.bob = world.user("collector", self.team_a)
        self.carol = world.user("collector", self.team_b)
        self.sup_a = world.user("supervisor", self.team_a)
        self.sup_b = world.user("supervisor", self.team_b)
        self.legal, self.admin = world.user("legal"), world.user("admin")
        self.case_a = world.case(collector=self.alice, lat=HOME[0], lon=HOME[1])
        self.case_u = world.case(collector=self.alice, lat=HOME[0], lon=HOME[1])
        self.case_c = world.case(collector=self.carol, lat=HOME[0], lon=HOME[1])
        self.case_u.debtor.timezone = "Asia/Urumqi"
        db.session.commit()
        self.alice_headers = world.login(self.alice)
        self.alice_phone = Phone(client, self.alice_headers)
        self.carol_phone = Phone(client, world.login(self.carol))
        self._headers: dict[int, dict] = {}

    def home(self, case):
        return db.session.scalar(
            select(Address.id).where(
                Address.debtor_id == case.debtor_id, Address.lender_ref == "A1"
            )
        )

    def vehicle(self, case):
        return db.session.scalar(select(Collateral.id).where(Collateral.case_id == case.id))

    def visit(self, case, phone=None, **kw):
        phone = phone or (self.carol_phone if case is self.case_c else self.alice_phone)
        result = phone.send("visit_report", report(case.id, self.home(case), **kw))
        assert result["status"] == "applied", result
        return result["record_id"]

    def get(self, user, url, **query):
        if user.id not in self._headers:
            self._headers[user.id] = self.world.login(user)
        return self.client.get(url, headers=self._headers[user.id], query_string=query)

    def ids(self, user, url, **query):
        response = self.get(user, url, **query)
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}


@pytest.fixture
def desk(world, client):
    return Desk(world, client)


def test_each_role_sees_the_visits_of_the_cases_it_may_see_and_no_others(desk):
    mine = desk.visit(desk.case_a)
    theirs = desk.visit(desk.case_c)
    assert desk.ids(desk.sup_a, "/visits") == {mine}
    assert desk.ids(desk.sup_b, "/visits") == {theirs}
    assert desk.ids(desk.alice, "/visits") == {mine}
    assert desk.ids(desk.bob, "/visits") == set()  # same team, none of his cases
    assert desk.ids(desk.legal, "/visits") == {mine, theirs}
    assert desk.ids(desk.admin, "/visits") == {mine, theirs}
    # Asking for another team's ids gives nothing, and the details do not exist.
    assert desk.ids(desk.sup_b, "/visits", team_id=desk.team_a.id) == set()
    assert desk.ids(desk.sup_b, "/visits", case_id=desk.case_a.id) == set()
    assert desk.ids(desk.sup_b, "/visits", collector_id=desk.alice.id) == set()
    hidden = desk.get(desk.sup_b, f"/visits/{mine}")
    missing = desk.get(desk.sup_b, f"/visits/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    assert desk.get(desk.bob, f"/visits/{mine}").status_code == 404
    assert desk.get(desk.sup_a, f"/visits/{mine}").status_code == 200


def test_the_day_filter_is_the_debtors_local_day(desk):
    # 2026-11-20 17:30 UTC: already the 21st in Shanghai (UTC+8), still the 20th in Urumqi (+6).
    start = "2026-11-21T01:30:00+08:00"
    shanghai = desk.visit(desk.case_a, start=start)
    urumqi = desk.visit(desk.case_u, start=start)
    day = {"date_from": "2026-11-20", "date_to": "2026-11-20"}
    assert desk.ids(desk.sup_a, "/visits", **day) == {urumqi}
    assert desk.ids(desk.sup_a, "/visits", date_from="2026-11-21") == {shanghai}
    assert desk.ids(desk.sup_a, "/visits", date_to="2026-11-21") == {shanghai, urumqi}
    items = desk.get(desk.sup_a, "/visits", sort="started_at").get_json()["items"]
    assert {i["id"]: i["local_day"] for i in items} == {
        shanghai: "2026-11-21",
        urumqi: "2026-11-20",
    }


def test_filters_by_flag_outcome_geofence_collector_case_and_team(desk):
    near = desk.visit(desk.case_a)
    far = desk.visit(desk.case_a, fix=FAR, outcome="refused")
    other_case = desk.visit(desk.case_u, start="2026-11-19T10:00:00+08:00")
    theirs = desk.visit(desk.case_c)
    assert desk.ids(desk.sup_a, "/visits", flag="far_from_address") == {far}
    assert desk.ids(desk.sup_a, "/visits", flag="too_few_collectors") == {near, far, other_case}
    assert desk.ids(desk.sup_a, "/visits", flag="mock_location") == set()
    assert desk.ids(desk.sup_a, "/visits", outcome="refused") == {far}
    assert desk.ids(desk.sup_a, "/visits", geofence="outside") == {far}
    assert desk.ids(desk.sup_a, "/visits", geofence="inside") == {near, other_case}
    assert desk.ids(desk.sup_a, "/visits", case_id=desk.case_u.id) == {other_case}
    assert desk.ids(desk.admin, "/visits", collector_id=desk.carol.id) == {theirs}
    assert desk.ids(desk.admin, "/visits", team_id=desk.team_b.id) == {theirs}
    assert desk.ids(desk.admin, "/visits", team_id=desk.team_a.id, flag="far_from_address") == {far}
    ordered = desk.get(desk.sup_a, "/visits", sort="started_at").get_json()
    assert ordered["items"][0]["id"] == other_case and ordered["page"]["total"] == 3
    paged = desk.get(desk.sup_a, "/visits", page_size=2, page=2).get_json()
    assert [i["id"] for i in paged["items"]] == [other_case]
    assert paged["page"] == {"page": 2, "page_size": 2, "total": 3, "pages": 2}


def test_a_reassigned_case_is_a_flag_too(desk):
    from api.services.casefile.assignment import set_assignment

    before = desk.visit(desk.case_a)
    set_assignment(
        db.session,
        desk.case_a,
        team_id=desk.team_a.id,
        collector_id=desk.bob.id,
        assigned_by_id=None,
        reason="test",
    )
    db.session.commit()
    after = desk.visit(desk.case_a)  # filed offline by Alice, kept and flagged
    assert desk.ids(desk.sup_a, "/visits", flag="case_reassigned") == {after}
    detail = desk.get(desk.sup_a, f"/visits/{after}").get_json()
    assert detail["case_reassigned"] and "case_reassigned" in detail["flags"]
    assert "case_reassigned" not in desk.get(desk.sup_a, f"/visits/{before}").get_json()["flags"]


def test_the_visit_detail_shows_fixes_collectors_files_and_corrections(desk, client):
    bob = cosign(client, desk.bob, desk.alice_headers)
    forged = {"user_id": desk.carol.id, "attestation": "x" * 40}
    started = datetime.now(UTC) - timedelta(minutes=10)
    doorplate, site = photo("doorplate"), photo("site", "DSCN0012.jpg")
    first = desk.visit(
        desk.case_a, start=started.isoformat(), co=[bob, forged], files=[doorplate, site]
    )
    correction = desk.visit(desk.case_a, supersedes_id=first, notes="Amount corrected.")
    from tests.conftest import DATA

    upload_and_complete(
        client, desk.alice_headers, doorplate["id"], (DATA / "photos" / "DSCN0010.jpg").read_bytes()
    )
    detail = desk.get(desk.sup_a, f"/visits/{first}").get_json()
    assert detail["geofence"] == "inside" and detail["distance_m"] < 1
    assert detail["fixes"][0]["lat"] == pytest.approx(HOME[0])
    assert detail["address"]["id"] == desk.home(desk.case_a)
    assert detail["collector_ids"] == [desk.alice.id, desk.bob.id]
    assert {(c["user_id"], c["verified"]) for c in detail["co_collectors"]} == {
        (desk.bob.id, True),
        (desk.carol.id, False),
    }
    assert detail["author_name"] == desk.alice.full_name
    assert "unverified_co_collector" in detail["flags"]
    assert {f["id"]: f["status"] for f in detail["files"]} == {
        doorplate["id"]: "complete",
        site["id"]: "pending",
    }
    assert (detail["files_declared"], detail["files_uploaded"]) == (2, 1)
    assert detail["superseded_by"] == [correction] and detail["supersedes_id"] is None
    later = desk.get(desk.sup_a, f"/visits/{correction}").get_json()
    assert later["supersedes_id"] == first and later["superseded_by"] == []
    listed = {i["id"]: i for i in desk.get(desk.sup_a, "/visits").get_json()["items"]}
    assert listed[first]["superseded_by"] == [correction]


def test_promises_show_status_and_what_is_still_due(desk):
    visit = desk.visit(desk.case_a)
    early = desk.alice_phone.send(
        "repayment_promise", promise(desk.case_a.id, visit_report_id=visit)
    )["record_id"]
    late_plan = [{"due_on": "2027-03-01", "amount_fen": 100_000}]
    late = desk.alice_phone.send("repayment_promise", promise(desk.case_u.id, plan=late_plan))[
        "record_id"
    ]
    theirs = desk.carol_phone.send("repayment_promise", promise(desk.case_c.id))["record_id"]
    finish_jobs()  # the PDFs are made by jobs once the pushes have committed
    stored = db.session.get(RepaymentPromise, early)
    stored.status, stored.paid_toward_fen = PromiseStatus.PARTLY_KEPT, 120_000
    db.session.commit()
    assert desk.ids(desk.sup_a, "/promises") == {early, late}
    assert desk.ids(desk.sup_b, "/promises") == {theirs}
    assert desk.ids(desk.sup_a, "/promises", status="partly_kept") == {early}
    assert desk.ids(desk.sup_a, "/promises", status="pending") == {late}
    # The early plan runs 2026-12-01 .. 2027-01-01, the late one is due 2027-03-01.
    assert desk.ids(desk.sup_a, "/promises", due_from="2026-12-15", due_to="2027-01-31") == {early}
    assert desk.ids(desk.sup_a, "/promises", due_from="2027-02-01") == {late}
    assert desk.ids(desk.legal, "/promises", collector_id=desk.carol.id) == {theirs}
    item = next(
        i for i in desk.get(desk.legal, "/promises").get_json()["items"] if i["id"] == early
    )
    assert (item["total_fen"], item["paid_toward_fen"], item["due_fen"]) == (
        500_000,
        120_000,
        380_000,
    )
    assert item["signer_national_id"] == "**************1512"
    detail = desk.get(desk.legal, f"/promises/{early}")
    body = detail.get_json()
    assert "440308" not in detail.get_data(as_text=True)
    assert body["signer_national_id"] == "**************1512"
    assert [p["amount_fen"] for p in body["plan"]] == [300_000, 200_000]
    assert [f["kind"] for f in body["files"]] == ["promise_pdf"]
    assert body["files"][0]["status"] == "complete" and body["visit_report_id"] == visit
    assert desk.get(desk.sup_a, f"/visits/{visit}").get_json()["promise_ids"] == [early]
    assert desk.get(desk.sup_b, f"/promises/{early}").status_code == 404


def test_receipts_notices_sightings_and_repossessions_read_back(desk):
    receipt = {
        "id": str(uuid.uuid4()),
        "case_id": desk.case_a.id,
        "receipt_no": "R-000900",
        "amount_fen": 100_000,
        "method": "cash",
        "payer_name": "张伟",
        "received_at": "2026-11-20T10:40:00+08:00",
        "files": [photo("receipt")],
    }
    notice = {
        "id": str(uuid.uuid4()),
        "case_id": desk.case_a.id,
        "notice_type": "overdue_notice",
        "served_to_name": "张伟",
        "served_to_role": "debtor",
        "method": "in_person",
        "served_at": "2026-11-20T10:45:00+08:00",
        "files": [photo("notice")],
    }
    vehicle = desk.vehicle(desk.case_a)

    def sighting(vin):
        return {
            "id": str(uuid.uuid4()),
            "case_id": desk.case_a.id,
            "collateral_id": vehicle,
            "vin_read": vin,
            "engine_no_read": "G4FC1234567",
            "seen_at": "2026-11-20T11:00:00+08:00",
        }

    good, wrong = sighting("LSJA24U62JG269225"), sighting("LDC613P23A1305189")
    repossession = {
        "id": str(uuid.uuid4()),
        "case_id": desk.case_a.id,
        "collateral_id": vehicle,
        "sighting_id": good["id"],
        "recovered_at": "2026-11-21T03:10:00+08:00",
        "towed_by": "平安拖车",
    }
    for type_, payload in [
        ("field_receipt", receipt),
        ("notice_served", notice),
        ("vehicle_sighting", good),
        ("vehicle_sighting", wrong),
        ("repossession", repossession),
    ]:
        assert desk.alice_phone.send(type_, payload)["status"] == "applied"
    for path, record in [
        ("receipts", receipt),
        ("notices", notice),
        ("repossessions", repossession),
    ]:
        assert desk.ids(desk.legal, f"/{path}") == {record["id"]}
        assert desk.ids(desk.sup_b, f"/{path}") == set()
        assert desk.get(desk.sup_b, f"/{path}/{record['id']}").status_code == 404
        assert desk.get(desk.sup_a, f"/{path}/{record['id']}").status_code == 200
    assert desk.ids(desk.sup_a, "/sightings") == {good["id"], wrong["id"]}
    assert desk.ids(desk.sup_a, "/sightings", mismatch="true") == {wrong["id"]}
    assert desk.ids(desk.sup_a, "/sightings", mismatch="false") == {good["id"]}
    seen = desk.get(desk.sup_a, f"/sightings/{wrong['id']}").get_json()
    assert (seen["vin_match"], seen["engine_no_match"]) == (False, True)
    assert seen["flags"] == ["vehicle_mismatch"]
    paid = desk.get(desk.sup_a, f"/receipts/{receipt['id']}").get_json()
    assert paid["amount_fen"] == 100_000 and paid["files"][0]["kind"] == "receipt"
    # When the money was taken, and (as for every record) when the server received it.
    assert paid["paid_at"].startswith("2026-11-20T02:40:00")
    assert paid["received_at"] > "2026-11-30"
    towed = desk.get(desk.legal, f"/repossessions/{repossession['id']}").get_json()
    assert towed["sighting_id"] == good["id"] and towed["towed_by"] == "平安拖车"
    assert desk.ids(desk.legal, "/repossessions", collateral_id=vehicle + 1000) == set()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"colour": "red"}, "colour"),
        ({"date_from": "2026-11-21", "date_to": "2026-11-20"}, "date_to"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"page_size": "500"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"page": "10000000000"}, "page"),
        ({"flag": "suspicious"}, "flag"),
        ({"outcome": "maybe"}, "outcome"),
        ({"geofence": "nearby"}, "geofence"),
        ({"team_id": "abc"}, "team_id"),
        ({"team_id": "99999999999999"}, "team_id"),
        ({"case_id": "-1"}, "case_id"),
        ({"sort": "debtor_name"}, "sort"),
    ],
)
def test_bad_visit_filters_are_a_422_naming_the_field(desk, query, field):
    response = desk.get(desk.sup_a, "/visits", **query)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("/promises", {"due_from": "2027-01-02", "due_to": "2027-01-01"}, "due_to"),
        ("/promises", {"status": "forgotten"}, "status"),
        ("/sightings", {"mismatch": "perhaps"}, "mismatch"),
        ("/receipts", {"flag": "too_few_collectors"}, "flag"),
        ("/notices", {"sort": "-started_at"}, "sort"),
    ],
)
def test_bad_filters_of_other_records_are_a_422_naming_the_field(desk, path, query, field):
    response = desk.get(desk.sup_a, path, **query)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_a_detail_id_that_is_not_a_uuid_is_not_found(desk):
    assert desk.get(desk.admin, "/visits/not-a-uuid").status_code == 404


def audit_rows(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_every_read_is_audited(desk):
    visit = desk.visit(desk.case_a)
    desk.get(desk.sup_a, "/visits")
    desk.get(desk.sup_a, f"/visits/{visit}")
    desk.get(desk.sup_b, "/visits")  # nothing to see: nothing read
    listed, read = audit_rows("visit_report.list"), audit_rows("visit_report.read")
    assert len(listed) == 1 and listed[0].actor_id == desk.sup_a.id
    assert visit in listed[0].detail and str(desk.case_a.id) in listed[0].detail
    assert len(read) == 1 and read[0].case_id == desk.case_a.id
    desk.get(desk.sup_b, f"/visits/{visit}")  # hidden: no read happened
    assert len(audit_rows("visit_report.read")) == 1


def count_queries(fn) -> int:
    statements = []

    def on_execute(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return len(statements)


def test_a_page_costs_the_same_queries_for_one_visit_or_many(desk):
    desk.visit(desk.case_a)
    desk.get(desk.admin, "/visits")  # signs in first
    one = count_queries(lambda: desk.get(desk.admin, "/visits"))
    for case in (desk.case_a, desk.case_u, desk.case_c, desk.case_u, desk.case_c):
        desk.visit(case, files=[photo("site")])
    many = count_queries(lambda: desk.get(desk.admin, "/visits"))
    assert many == one and many <= 15
