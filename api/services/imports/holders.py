"""Who a case record may be given to: the team and collector the lender's file names, judged
once for each team, collector, status, lender and jurisdiction of a run."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from api.models import Role, Team, User
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.compliance.dispatch import (
    PolicyBook,
    authorisation_problem,
    authorisations_of,
    dispatch_day,
)

HOLDER_TERMS = ("team_code", "collector_username", "status", "lender", "jurisdiction")
Holder = tuple[int | None, int | None, bool]  # team id, collector id, collector named


class Holders:
    """The holders a run's records ask for, each judged once (the teams and collectors read
    when the run starts)."""

    def __init__(self, session: Session):
        self.session = session
        self.teams = dict(session.execute(select(Team.code, Team.id)).all())
        self.collectors = {u.username: u for u in session.execute(
            select(User.id, User.username, User.team_id, User.is_active)
            .where(User.role == Role.COLLECTOR))}
        self.policies = PolicyBook(session, utcnow())  # each case's, for its dispatch rules
        self.held: dict[int, tuple] = {}  # collector id -> (name, authorisations, dispatch day)
        self.judged: dict[tuple, tuple] = {}  # HOLDER_TERMS -> (holder, problems)

    def asked(self, data: dict, problems: list) -> Holder | None:
        """(team id, collector id, collector named) the record asks for, or None to leave the
        case's holder as it is; why it may not be, in `problems`."""
        key = tuple(data[name] for name in HOLDER_TERMS)
        if key not in self.judged:
            found: list = []
            self.judged[key] = (self._judge(data, found), found)
        holder, found = self.judged[key]
        problems.extend(found)
        return holder

    def _judge(self, data: dict, problems: list) -> Holder | None:
        team_code, username = data["team_code"], data["collector_username"]
        if team_code is None and username is None:
            return None
        team_id = self.teams.get(team_code) if team_code is not None else None
        if team_code is not None and team_id is None:
            problems.append(("team_code", "no such team"))
            return None
        if username is None:
            return team_id, None, False
        collector = self.collectors.get(username)
        if collector is None or not collector.is_active:
            problems.append(("collector_username", "no such active collector"))
        elif team_id is not None and collector.team_id != team_id:
            problems.append(("collector_username", "is not in that team"))
        elif data["status"] in CLOSED_STATUSES:
            problems.append(("collector_username",
                             "a settled or written-off case cannot be given to a collector"))
        elif (problem := self._unauthorised(data, collector.id)) is not None:
            problems.append(("collector_username", problem))
        else:
            return collector.team_id, collector.id, True
        return None

    def _unauthorised(self, data: dict, collector_id: int) -> str | None:
        """Why the collector may not be given a case of this lender and jurisdiction (rule
        `collector_authorised`, as on every other way of assigning), or None."""
        if collector_id not in self.held:  # as plain values: they outlast commits, rollbacks
            collector = self.session.get(User, collector_id)
            self.held[collector_id] = (
                SimpleNamespace(full_name=collector.full_name),
                [_plain(row) for row in authorisations_of(
                    self.session, [collector_id]).get(collector_id, [])],
                dispatch_day(collector, self.policies.at))
        collector, rows, day = self.held[collector_id]
        terms = SimpleNamespace(policy_id=None, lender=data["lender"],
                                jurisdiction=data["jurisdiction"])
        if not self.policies(terms).collector_authorisation_required:
            return None
        return authorisation_problem(collector, rows, data["lender"], data["jurisdiction"], day)


def _plain(obj: Any) -> SimpleNamespace:
    """An ORM object's columns as plain values."""
    return SimpleNamespace(**{a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs})
