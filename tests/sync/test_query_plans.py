"""Every statement the sync endpoints issue reads by index, never by scanning a table that grows
with the book (PostgreSQL). The statements are the real ones, captured while a phone signs in,
bootstraps over several pages, pulls deltas (cases and a route plan), pulls with nothing new,
pulls new reference data, and pushes records; each is explained with sequential scans
disabled, so a plan that still scans a table has no index for it.

An empty pull is counted too: authentication, the device's state with the watermark, and the
change log; nothing else."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import event

from api.extensions import db
from tests.api.test_routes import based
from tests.field.conftest import finish_jobs
from tests.field.test_field_work import promise, report
from tests.sync.test_protocol import attempt, pull, pull_all, push
from tests.sync.test_route_sync import make_plan

# Tables that hold a handful of fixed rows whatever the size of the book: a scan of one is as
# cheap as an index probe (counters by name, the compliance policies and their versions).
TINY = {"sync_counters", "compliance_policies", "policy_versions"}
SCAN = re.compile(r"Seq Scan on (\w+)")
INDEX_SCAN = re.compile(r"Index (?:Only )?Scan(?: Backward)? using \w+ on (\w+)")
HEAP_SCAN = re.compile(r"Bitmap Heap Scan on (\w+)")
SKIP = ("SAVEPOINT", "RELEASE", "ROLLBACK", "SET ", "SHOW ", "COMMIT", "BEGIN")


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's; SQLite plans are not the production ones")


class Statements:
    """The statements sent to the database while it listens."""

    def __init__(self):
        self.seen: list[tuple[str, object]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if isinstance(parameters, list | tuple) and parameters:  # executemany: the first row
            parameters = parameters[0]
        self.seen.append((statement, parameters))

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def whole_index_scans(plan: str) -> set[str]:
    """Tables read through an index that does not narrow the read: an index scan without an
    index condition (what the planner picks for a table with no fitting index once scans are
    off), or one whose condition is only a range and whose rows are then filtered (the primary
    key's `case_id > 0`, filtered on the collector). The first rows of an index in its order
    under a LIMIT (the newest row) are fine."""
    tables = set()
    limited = plan.lstrip().startswith("Limit")
    for node in re.split(r"\n\s*->", plan):
        match = INDEX_SCAN.search(node) or HEAP_SCAN.search(node)
        if not match:
            continue
        cond = re.search(r"(?:Index|Recheck) Cond: (.*)", node)
        filtered = "Filter:" in node
        if cond is None:
            every_entry = not limited or filtered
        else:
            every_entry = filtered and " = " not in cond.group(1)
        if every_entry:
            tables.add(match.group(1))
    return tables


def plans_that_scan(seen) -> list[str]:
    scans, explained = [], set()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in seen:
            if statement.lstrip().upper().startswith(SKIP) or statement in explained:
                continue
            explained.add(statement)
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(
                f"EXPLAIN {statement}", parameters))
            tables = (set(SCAN.findall(plan)) | whole_index_scans(plan)) - TINY
            if tables:
                scans.append(f"{sorted(tables)}:\n{statement}\n{plan}")
    return scans


FILTERED_RANGE = """Limit  (cost=21.43..21.43 rows=2 width=40)
  ->  Sort  (cost=21.43..21.43 rows=2 width=40)
        Sort Key: case_id
        ->  Bitmap Heap Scan on case_documents  (cost=6.57..21.42 rows=2 width=40)
              Recheck Cond: (case_id > 0)
              Filter: (collector_id = 3)
              ->  Bitmap Index Scan on pk_case_documents  (cost=0.00..6.57 rows=323 width=0)
                    Index Cond: (case_id > 0)"""
BY_COLLECTOR = """Sort  (cost=12.72..12.73 rows=5 width=40)
  Sort Key: plan_id
  ->  Bitmap Heap Scan on route_documents  (cost=4.19..12.66 rows=5 width=40)
        Recheck Cond: (collector_id = 3)
        ->  Bitmap Index Scan on ix_route_documents_collector_id  (cost=0.00..4.19 rows=5 width=0)
              Index Cond: (collector_id = 3)"""
WHOLE_INDEX = """Index Scan using pk_devices on devices  (cost=0.14..50.25 rows=1 width=154)
  Filter: ((user_id = 3))"""
NEWEST = """Limit  (cost=0.14..0.50 rows=1 width=154)
  ->  Index Scan Backward using pk_audit_events on audit_events  (cost=0.14..50.25 rows=140)"""


def test_the_plan_reader_tells_a_scan_in_disguise_from_an_index_read():
    """Plans PostgreSQL gave once the collector index was dropped, and with it."""
    assert whole_index_scans(FILTERED_RANGE) == {"case_documents"}
    assert whole_index_scans(WHOLE_INDEX) == {"devices"}
    assert whole_index_scans(BY_COLLECTOR) == set() == whole_index_scans(NEWEST)


def test_every_sync_statement_reads_by_index(world, client, postgres):
    team = world.team()
    alice = based(world, team)
    cases = [world.case(collector=alice) for _ in range(5)]
    for _ in range(3):
        world.case(collector=world.user("collector", team))  # other phones' cases
    boss = world.login(world.user("supervisor", team))
    with Statements() as signing_in:
        phone = world.login(alice)
    with Statements() as syncing:
        changes, cursor = pull_all(client, phone, limit=2)  # three pages
        assert len([c for c in changes if c["entity"] == "case"]) == 5
        version = pull(client, phone)["reference"]["version"]
        answer = push(client, phone, [
            attempt(1, cases[0].id),
            {"mutation_id": 2, "type": "case_note", "client_time": "2026-11-20T10:00:00+08:00",
             "payload": {"id": "5c1e0000-0000-4000-8000-000000000001", "case_id": cases[1].id,
                         "text": "Works nights."}},
            {"mutation_id": 3, "type": "visit_report", "client_time": "2026-11-20T10:30:00+08:00",
             "payload": report(cases[2].id, cases[2].debtor.addresses[0].id)},
            {"mutation_id": 4, "type": "repayment_promise",
             "client_time": "2026-11-20T10:40:00+08:00", "payload": promise(cases[2].id)},
        ])
        assert [r["status"] for r in answer.get_json()["results"]] == ["applied"] * 4
        again = push(client, phone, [attempt(1, cases[0].id)])  # a replay
        assert again.get_json()["results"][0]["status"] == "duplicate"
    finish_jobs()  # the promise's PDF job puts case 3's document again once it is made
    make_plan(client, {"alice": alice, "cases": cases[:3], "boss": boss})  # not sync's
    with Statements() as following:
        delta, cursor = pull_all(client, phone, cursor, ref_version=version)
        assert {c["entity"] for c in delta} == {"case", "route"}
        empty = pull(client, phone, cursor, ref_version=version)
        assert empty["changes"] == [] and "reference" not in empty
        stale = pull(client, phone, cursor, ref_version="old")  # reference sent again
        assert stale["reference"]["version"] == version
    scans = plans_that_scan(signing_in.seen + syncing.seen + following.seen)
    assert not scans, "sync statements that scan a table:\n\n" + "\n\n".join(scans)


def test_a_bootstrap_reads_the_collectors_documents_by_index(world, client, postgres):
    alice = world.user("collector")
    for _ in range(3):
        world.case(collector=alice)
    world.case(collector=world.user("collector"))  # someone else's
    phone = world.login(alice)
    with Statements() as bootstrap:
        changes, _ = pull_all(client, phone)
    assert len([c for c in changes if c["entity"] == "case"]) == 3
    reads = [(s, p) for s, p in bootstrap.seen if "FROM case_documents" in s]
    assert reads, "the bootstrap read case documents"
    scans = []
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in reads:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(
                f"EXPLAIN {statement}", parameters))
            # An index scan that filters on the collector (the primary key's, say) still
            # reads every document: the collector must be in the index condition.
            if "Seq Scan on" in plan or "Filter: (collector_id" in plan or (
                    "Index Cond" not in plan or "collector_id" not in plan.split(
                        "Index Cond", 1)[1]):
                scans.append(f"{statement}\n{plan}")
    assert not scans, "reads that do not go by the collector's index:\n\n" + "\n\n".join(scans)


def test_an_empty_pull_is_three_statements(world, client, postgres):
    """Authentication, the device's state with the watermark (and the reference data's
    version), the change log: no policies read, no audit row, whatever the book holds."""
    alice = world.user("collector")
    for _ in range(3):
        world.case(collector=alice)
    phone = world.login(alice)
    first = pull(client, phone)
    _, cursor = pull_all(client, phone, first["cursor"], ref_version=first["reference"]["version"])
    with Statements() as empty:
        page = pull(client, phone, cursor, ref_version=first["reference"]["version"])
    assert page["changes"] == [] and "reference" not in page
    statements = [s for s, _ in empty.seen if not s.lstrip().upper().startswith(SKIP)]
    assert len(statements) == 3, "\n\n".join(statements)
    assert not any("INSERT" in s or "audit" in s for s in statements)


def test_a_bootstrap_reads_the_policies_once_per_reference_version(world, client, use_policy):
    """The reference data is built once for its version; what a later bootstrap carries is
    what reading the policies again would give, until a version is added."""
    from api.models.types import utcnow
    from api.services.compliance.policies import PRESETS, phone_policies
    from mobile_sync.reference import reference_data

    alice = world.user("collector")
    world.case(collector=alice)
    phone = world.login(alice)
    for _ in range(2):
        with Statements() as bootstrap:
            first = pull(client, phone)
        fresh = reference_data(phone_policies(db.session, utcnow()))
        assert {k: v for k, v in first["reference"].items() if k != "version"} == fresh
    assert not [s for s, _ in bootstrap.seen if "compliance_policies" in s.split("WHERE")[0]
                and "count(" not in s]
    use_policy(dataclasses.replace(PRESETS["CN"], visit_hours_end="20:30"))
    changed = pull(client, phone, first["cursor"], ref_version=first["reference"]["version"])
    assert changed["reference"]["version"] != first["reference"]["version"]
    fresh = reference_data(phone_policies(db.session, utcnow()))
    assert {k: v for k, v in changed["reference"].items() if k != "version"} == fresh
