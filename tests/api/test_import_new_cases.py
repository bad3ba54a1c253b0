"""New cases of new debtors go in set-based (`api.services.imports.new_cases`): plain rows in bulk,
their device documents built from the rows in memory. They must be exactly what the ORM path
leaves: each stored document byte for byte what `mobile_sync.documents.build_documents` makes of
the stored rows, the change log and the assignments as before, and a bad record skipped whole
while the others of its chunk go in."""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask import current_app
from sqlalchemy import select

from api.extensions import db
from api.models import (
    Address,
    Assignment,
    Case,
    CaseDocument,
    CaseStatus,
    Collateral,
    Contact,
    Debtor,
    Instalment,
    Payment,
    SyncChange,
)
from api.services.imports.demo.book import generate_cases_file
from api.services.imports.runs import import_cases
from mobile_sync.changelog import Publisher, bucket_of
from mobile_sync.documents import build_documents, open_document

AS_OF = date(2026, 11, 21)


class Recording(Publisher):
    """The job's publisher, noting which cases it was handed as created set-based."""

    def __init__(self, cipher):
        super().__init__(cipher)
        self.created: list[int] = []

    def new_cases(self, session, graphs):
        self.created += [graph.case.id for graph in graphs]
        super().new_cases(session, graphs)


@pytest.fixture
def lender(world):
    team = world.team("SZ-01")
    return {"team": team, "collector": world.user("collector", team=team,
                                                  username="collector1"),
            "admin": world.user("admin")}


def cases_doc(n: int) -> dict:
    """`n` cases of every kind of holder: a collector, a team only, nobody; one settled, one
    written off (nobody's phone), and a debtor with two loans whose second record adds a
    contact and an address tied to a contact only the first record names."""
    doc = generate_cases_file(n, seed=5, as_of=AS_OF)
    for k, case in enumerate(doc["cases"]):
        case["team_code"] = "SZ-01" if k % 3 else None
        case["collector_username"] = "collector1" if k % 3 == 1 else None
    for k, status in ((4, "settled"), (5, "written_off")):
        doc["cases"][k]["status"], doc["cases"][k]["collector_username"] = status, None
    first, second = doc["cases"][0], doc["cases"][1]
    for part in ("debtor", "contacts", "addresses"):
        second[part] = json.loads(json.dumps(first[part]))
    second["contacts"].append({"ref": "C-EXTRA", "name": "赵小红", "relation": "sibling",
                               "role": "reference", "phone": "13912345678",
                               "knows_of_loan": False})
    second["addresses"].append({"ref": "A-EXTRA", "kind": "work", "text": "深圳市南山区科技园1号",
                                "lat": 22.54, "lon": 113.95, "datum": "WGS84",
                                "contact_ref": first["contacts"][0]["ref"]})
    return doc


def stored_documents(case_ids: list[int]) -> dict[int, tuple[int | None, str]]:
    cipher = current_app.extensions["fieldvisit.pii"]
    rows = db.session.execute(select(CaseDocument.case_id, CaseDocument.collector_id,
                                     CaseDocument.sealed)
                              .where(CaseDocument.case_id.in_(case_ids)))
    return {case_id: (holder, open_document(cipher, sealed)) for case_id, holder, sealed in rows}


def run(doc: dict, lender, **options):
    cipher = current_app.extensions["fieldvisit.pii"]
    publisher = Recording(cipher)
    result = import_cases(db.session, cipher, doc, actor_id=lender["admin"].id, as_of=AS_OF,
                          publish=publisher, **options)
    db.session.commit()
    return result, publisher


def test_new_cases_documents_are_what_the_builder_makes_of_the_stored_rows(app, lender):
    doc = cases_doc(30)
    result, publisher = run(doc, lender, chunk=7)  # a debtor's loans in one chunk or two
    assert (result.created, json.loads(result.errors)) == (30, [])
    db.session.expire_all()
    case_ids = db.session.scalars(select(Case.id).order_by(Case.id)).all()
    assert sorted(publisher.created) == case_ids  # every one of them went in set-based

    cipher = current_app.extensions["fieldvisit.pii"]
    rebuilt = build_documents(db.session, case_ids, cipher)
    stored = stored_documents(case_ids)
    for case_id in case_ids:
        assert stored[case_id] == rebuilt[case_id], case_id

    cases = {c.contract_no: c for c in db.session.scalars(select(Case))}
    shared = cases[doc["cases"][0]["contract_no"]].debtor
    assert cases[doc["cases"][1]["contract_no"]].debtor_id == shared.id
    extra = next(a for a in shared.addresses if a.lender_ref == "A-EXTRA")
    assert extra.contact_id == next(c.id for c in shared.contacts
                                    if c.lender_ref == doc["cases"][0]["contacts"][0]["ref"])
    assert {c.lender_ref for c in shared.contacts} >= {"C-EXTRA"}
    settled = cases[doc["cases"][4]["contract_no"]]
    assert settled.status == CaseStatus.SETTLED and settled.closed_at is not None
    assert cases[doc["cases"][2]["contract_no"]].closed_at is None
    # The holders, their assignments and the change rows: a put to each holder's bucket.
    held = {c.id: c.collector_id for c in cases.values() if c.collector_id is not None}
    assert held and len(held) < len(cases)
    puts = db.session.execute(select(SyncChange.entity_id, SyncChange.bucket)
                              .where(SyncChange.entity == "case", SyncChange.op == "put")).all()
    assert sorted(puts) == sorted((case_id, bucket_of(holder)) for case_id, holder in held.items())
    opened = {(a.case_id, a.team_id, a.collector_id, a.assigned_by_id, a.reason)
              for a in db.session.scalars(select(Assignment))}
    assert opened == {(c.id, c.team_id, c.collector_id, lender["admin"].id, "lender import")
                      for c in cases.values() if (c.team_id, c.collector_id) != (None, None)}
    assert db.session.scalar(select(Instalment.id).limit(1)) is not None

    again, publisher = run(doc, lender, chunk=7)  # the same file again creates nothing
    assert (again.created, again.updated, again.unchanged) == (0, 0, 30)
    assert publisher.created == []


def test_a_new_case_of_a_saved_debtor_is_merged_and_reads_the_same(app, lender):
    """A new loan of a debtor already saved goes through the ORM merge (its debtor may carry
    field data); its document too is what the builder makes of the stored rows."""
    doc = cases_doc(6)
    run({**doc, "cases": doc["cases"][:1]}, lender)
    result, publisher = run({**doc, "cases": doc["cases"][1:]}, lender)
    assert (result.created, json.loads(result.errors)) == (5, [])
    db.session.expire_all()
    second = db.session.scalar(select(Case).where(
        Case.contract_no == doc["cases"][1]["contract_no"]))
    assert second.id not in publisher.created and len(publisher.created) == 4
    case_ids = db.session.scalars(select(Case.id)).all()
    rebuilt = build_documents(db.session, case_ids, current_app.extensions["fieldvisit.pii"])
    assert stored_documents(case_ids) == rebuilt


def _saved(contract_no: str, debtor_ref: str) -> dict:
    """What of one record is in the database, table by table."""
    case_id = db.session.scalar(select(Case.id).where(Case.contract_no == contract_no))
    debtor_id = db.session.scalar(select(Debtor.id).where(Debtor.lender_ref == debtor_ref))
    return {
        "case": case_id, "debtor": debtor_id,
        "contacts": db.session.scalars(select(Contact.id).where(
            Contact.debtor_id == debtor_id)).all(),
        "addresses": db.session.scalars(select(Address.id).where(
            Address.debtor_id == debtor_id)).all(),
        "parts": [db.session.scalars(select(model.id).where(model.case_id == case_id)).all()
                  for model in (Instalment, Payment, Collateral, Assignment)],
        "document": db.session.get(CaseDocument, case_id) if case_id else None,
    }


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_bad_record_in_a_set_based_chunk_is_skipped_whole(app, lender, dry_run):
    doc = cases_doc(8)
    bad_address, bad_schedule = doc["cases"][3], doc["cases"][6]
    bad_address["addresses"][0]["contact_ref"] = "NOBODY"
    bad_schedule["schedule"][1]["seq"] = bad_schedule["schedule"][0]["seq"]
    result, publisher = run(doc, lender, dry_run=dry_run)
    errors = [(e["row"], e["field"]) for e in json.loads(result.errors)]
    assert errors == [(4, "addresses.0.contact_ref"), (7, "schedule.1.seq")]
    assert (result.created, result.dry_run) == (6, dry_run)
    db.session.expire_all()
    for bad in (bad_address, bad_schedule):
        assert _saved(bad["contract_no"], bad["debtor"]["ref"]) == {
            "case": None, "debtor": None, "contacts": [], "addresses": [],
            "parts": [[]] * 4, "document": None}
    good = [case for case in doc["cases"] if case not in (bad_address, bad_schedule)]
    saved = db.session.scalars(select(Case.contract_no)).all()
    if dry_run:
        assert saved == [] and publisher.created == []
        assert db.session.scalar(select(SyncChange.seq).limit(1)) is None
        return
    assert sorted(saved) == sorted(case["contract_no"] for case in good)
    assert len(publisher.created) == 6
    for case in good:
        assert _saved(case["contract_no"], case["debtor"]["ref"])["document"] is not None


def test_a_schedule_adding_up_beyond_the_database_is_a_row_error(app, lender):
    """Each amount is within bounds, but together they overflow a BIGINT: a row error naming the
    schedule, not a 500; the other records go in."""
    doc = cases_doc(6)
    huge = doc["cases"][2]
    huge["schedule"] = [{"seq": k, "due_on": date(2000 + k // 12, k % 12 + 1, 1).isoformat(),
                         "amount_fen": 10**15, "principal_fen": 10**15}
                        for k in range(1, 9300)]
    huge["payments"] = []
    result, _ = run(doc, lender)
    assert [(e["row"], e["field"]) for e in json.loads(result.errors)] == [(3, "schedule")]
    assert result.created == 5
