"""The sync queries read the collector's own rows through an index on the collector, never by
scanning a whole table (PostgreSQL). The statements are the real ones of a bootstrap pull,
captured as it runs, explained with sequential scans disabled: a plan that still scans, or
filters on the collector, has no index for it."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from api.extensions import db
from tests.sync.test_protocol import pull_all

WATCHED = ("case_documents",)  # the tables a bootstrap reads per collector


def test_a_bootstrap_reads_the_collectors_documents_by_index(world, client):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's; SQLite plans are not the production ones")
    alice = world.user("collector")
    for _ in range(3):
        world.case(collector=alice)
    world.case(collector=world.user("collector"))  # someone else's
    phone = world.login(alice)

    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if any(f"FROM {table}" in statement for table in WATCHED):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        changes, _ = pull_all(client, phone)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len([c for c in changes if c["entity"] == "case"]) == 3
    assert seen, "the bootstrap read case documents"
    scans = []
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in seen:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(
                f"EXPLAIN {statement}", parameters))
            # An index scan that filters on the collector (the primary key's, say) still
            # reads every document: the collector must be in the index condition.
            if "Seq Scan on" in plan or "Filter: (collector_id" in plan or (
                    "Index Cond" not in plan or "collector_id" not in plan.split(
                        "Index Cond", 1)[1]):
                scans.append(f"{statement}\n{plan}")
    assert not scans, "reads that do not go by the collector's index:\n\n" + "\n\n".join(scans)
