"""What one scan works with: the moment, the thresholds, the team it covers, and the SQL pieces
every detector shares (the upsert that makes a scan idempotent, the JSON of an item's facts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Text,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import ExceptionItem, ExceptionKind, ExceptionState

ITEMS = ExceptionItem.__table__
# The columns a detector's candidates carry, in this order.
CANDIDATE_COLUMNS = (
    "kind",
    "subject_id",
    "case_id",
    "team_id",
    "collector_id",
    "actor",
    "action",
    "occurred_at",
    "detail",
)
# What a reopened item forgets of its previous round.
_REOPEN_CLEARS = (
    "acknowledged_by_id",
    "acknowledged_at",
    "acknowledge_note",
    "resolved_by_id",
    "resolved_at",
    "resolution_note",
)


@dataclass(frozen=True)
class ScanSettings:
    """Thresholds of a scan. Only the silent-phone one is a deployment setting for now
    (`FIELDVISIT_DEVICE_SILENT_AFTER_HOURS`); the others are defaults here."""

    device_silent_after_hours: int = 48
    upload_stuck_after_hours: int = 24  # a declared file not uploaded by then is stuck
    visit_lookback_days: int = 30  # visits that started earlier are not looked at again
    default_timezone: str = "Asia/Shanghai"  # for a debtor without a valid zone

    @classmethod
    def from_config(cls, config) -> ScanSettings:
        return cls(device_silent_after_hours=config.device_silent_after_hours)


@dataclass(frozen=True)
class Scope:
    """One scan's session, clock, thresholds and team, and the statements detectors share."""

    session: Session
    now: datetime
    settings: ScanSettings
    team_id: int | None = None  # None: every team

    @property
    def postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def ago(self, **delta) -> datetime:
        return self.now - timedelta(**delta)

    def of_team(self, stmt: Select, team_column) -> Select:
        """Only the scanned team's rows. SQLite would drive the query from the team's cases
        (most of them) and probe the records of each; `likely()` tells its planner the test
        passes for most rows, so it walks the records' own index instead."""
        if self.team_id is None:
            return stmt
        test = team_column == self.team_id
        return stmt.where(test if self.postgresql else func.likely(test, type_=Boolean))

    def json_object(self, **pairs) -> ColumnElement:
        """A JSON object built in SQL (the keys are our own constants)."""
        args = [part for key, value in pairs.items() for part in (literal_column(f"'{key}'"),
                                                                   value)]
        if self.postgresql:
            return cast(func.json_build_object(*args), Text)
        return func.json_object(*args)

    # --- writing items ------------------------------------------------------------------------

    def open_from_select(self, subject_type: str, candidates: Select) -> Counter:
        """Open an item for each candidate row that has none, or whose resolved item was about
        an earlier occurrence; one INSERT ... SELECT. Returns how many were opened, by kind."""
        found = candidates.subquery("found")
        item = ITEMS.alias("known")
        rows = select(
            literal_column(f"'{subject_type}'"),
            *(found.c[name] for name in CANDIDATE_COLUMNS),
            self._now(),
            literal_column(f"'{ExceptionState.OPEN.value}'"),
            literal(False),
        ).where(
            ~exists().where(
                item.c.kind == found.c.kind,
                item.c.subject_type == subject_type,
                item.c.subject_id == found.c.subject_id,
                or_(item.c.state != ExceptionState.RESOLVED,
                    item.c.occurred_at >= found.c.occurred_at),
            )
        )
        columns = ["subject_type", *CANDIDATE_COLUMNS, "detected_at", "state", "auto_resolved"]
        return self._execute_upsert(self._insert().from_select(columns, rows))

    def open_rows(self, kind: ExceptionKind, subject_type: str, rows: Sequence[dict]) -> Counter:
        """The same for candidates judged in Python (already filtered the same way): one
        statement, executed for many rows (batched by SQLAlchemy's insertmanyvalues)."""
        if not rows:
            return Counter()
        values = [
            {**row, "kind": kind, "subject_type": subject_type, "detected_at": self.now,
             "state": ExceptionState.OPEN, "auto_resolved": False}
            for row in rows
        ]
        return self._execute_upsert(self._insert(), values)

    def kind(self, kind: ExceptionKind):
        """The kind, as a candidate column."""
        return literal_column(f"'{kind.value}'").label("kind")

    def resolve(self, kind: ExceptionKind, cleared: ColumnElement, note: str) -> int:
        """Resolve, as cleared by the scan, this kind's unresolved items meeting `cleared`."""
        stmt = ITEMS.update().where(
            ITEMS.c.kind == kind, ITEMS.c.state != ExceptionState.RESOLVED, cleared
        )
        if self.team_id is not None:
            stmt = stmt.where(ITEMS.c.team_id == self.team_id)
        return self.session.execute(
            stmt.values(state=ExceptionState.RESOLVED, resolved_at=self.now, resolved_by_id=None,
                        auto_resolved=True, resolution_note=f"cleared: {note}")
        ).rowcount

    def _now(self):
        return literal(self.now, ITEMS.c.detected_at.type).label("detected_at")

    def _insert(self):
        return (pg_insert if self.postgresql else sqlite_insert)(ITEMS)

    def _execute_upsert(self, stmt, rows: list[dict] | None = None) -> Counter:
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "subject_type", "subject_id"],
            set_={
                "state": ExceptionState.OPEN,
                "auto_resolved": False,
                **{name: new[name] for name in (*CANDIDATE_COLUMNS, "detected_at")
                   if name not in ("kind", "subject_id")},
                **dict.fromkeys(_REOPEN_CLEARS),
            },
            where=(ITEMS.c.state == ExceptionState.RESOLVED)
            & (ITEMS.c.occurred_at < new.occurred_at),
        )
        returning = stmt.returning(ITEMS.c.kind)
        if rows is None:
            return Counter(self.session.scalars(returning))
        result = self.session.execute(returning, rows)
        return Counter(kind for (kind,) in result)
