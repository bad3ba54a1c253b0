"""The detectors whose condition SQL can state whole: flagged visits, visits without photos,
silent phones, proposals waiting for review, stuck uploads. Each is a query of candidates (one
INSERT ... SELECT opens their items) and, if the condition can clear by itself, the SQL test
that it still holds (one UPDATE resolves the rest). Every detector has `kinds`, and `detect`
and `resolve` answering how many items of each kind they opened or resolved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from api.models import (
    Case,
    Device,
    EvidenceFile,
    ExceptionActor,
    ExceptionKind,
    FieldProposal,
    ProposalStatus,
    Role,
    UploadStatus,
    User,
    VisitReport,
)
from api.services.evidence.uploads import SERVER_MADE
from api.services.supervision.exceptions_feed.actions import CLEARED
from api.services.supervision.exceptions_feed.scope import ITEMS, Scope

IMAGE = EvidenceFile.mime.like("image/%")


@dataclass(frozen=True)
class SqlDetector:
    kind: ExceptionKind
    subject_type: str
    candidates: Callable[[Scope], Select]  # columns named as scope.CANDIDATE_COLUMNS
    # The condition still holds for the item's subject (SQL over `exception_items`).
    holds: Callable[[Scope], ColumnElement]

    @property
    def kinds(self) -> tuple[ExceptionKind, ...]:
        return (self.kind,)

    def detect(self, scope: Scope) -> Counter:
        return scope.open_from_select(self.subject_type, self.candidates(scope))

    def resolve(self, scope: Scope) -> Counter:
        return Counter({self.kind: scope.resolve(self.kind, ~self.holds(scope),
                                                 CLEARED[self.kind])})


def _actor(actor: ExceptionActor):
    return literal(actor.value)


# --- visits -----------------------------------------------------------------------------------


def _visits(scope: Scope, kind, action, detail) -> Select:
    """Visits started within the look-back, as candidates for the supervisor to review."""
    stmt = (
        select(
            kind,
            VisitReport.id.label("subject_id"),
            VisitReport.case_id.label("case_id"),
            Case.team_id.label("team_id"),
            VisitReport.author_id.label("collector_id"),
            _actor(ExceptionActor.SUPERVISOR).label("actor"),
            action.label("action"),
            VisitReport.started_at.label("occurred_at"),
            detail.label("detail"),
        )
        .join(Case, Case.id == VisitReport.case_id)
        .where(VisitReport.started_at >= scope.ago(days=scope.settings.visit_lookback_days))
    )
    return scope.of_team(stmt, Case.team_id)


# The flags set on receipt (api.models.vocabulary.FLAGS) that are exceptions of their own name,
# and what resolves each.
FLAG_ACTIONS = {
    ExceptionKind.FAR_FROM_ADDRESS: "review_location",
    ExceptionKind.OUTSIDE_VISIT_HOURS: "review_visit_hours",
    ExceptionKind.TOO_FEW_COLLECTORS: "arrange_second_collector",
}


class FlaggedVisits:
    """Visits carrying those flags. The look-back's visits are read once for all of them (the
    ones with any such flag, kept aside), then matched with each flag. Hours and distance are
    for ever: a person resolves them. `too_few_collectors` clears by itself when a second
    collector's presence, pushed later, verifies the visit (api/services/fieldwork/presence.py)."""

    kinds = tuple(FLAG_ACTIONS)
    subject_type = "visit_report"

    def detect(self, scope: Scope) -> Counter:
        patterns = {kind: f'%"{kind.value}"%' for kind in FLAG_ACTIONS}
        flagged = scope.of_team(
            select(VisitReport.id, VisitReport.case_id, Case.team_id, VisitReport.author_id,
                   VisitReport.started_at, VisitReport.flags, VisitReport.distance_m,
                   VisitReport.accuracy_m, VisitReport.local_day)
            .join(Case, Case.id == VisitReport.case_id)
            .where(VisitReport.started_at >= scope.ago(days=scope.settings.visit_lookback_days),
                   or_(*(VisitReport.flags.like(p) for p in patterns.values()))),
            Case.team_id,
        ).cte("flagged").prefix_with("MATERIALIZED")
        flag = union_all(*(
            select(literal_column(f"'{kind.value}'").label("kind"),
                   literal_column(f"'{patterns[kind]}'").label("pattern"),
                   literal_column(f"'{action}'").label("action"))
            for kind, action in FLAG_ACTIONS.items()
        )).subquery("flag")
        detail = case(
            (flag.c.kind == ExceptionKind.FAR_FROM_ADDRESS.value,
             scope.json_object(distance_m=flagged.c.distance_m,
                               accuracy_m=flagged.c.accuracy_m)),
            (flag.c.kind == ExceptionKind.OUTSIDE_VISIT_HOURS.value,
             scope.json_object(local_day=flagged.c.local_day)),
            else_=scope.json_object(),
        )
        candidates = select(
            flag.c.kind,
            flagged.c.id.label("subject_id"),
            flagged.c.case_id,
            flagged.c.team_id,
            flagged.c.author_id.label("collector_id"),
            _actor(ExceptionActor.SUPERVISOR).label("actor"),
            flag.c.action,
            flagged.c.started_at.label("occurred_at"),
            detail.label("detail"),
        ).join_from(flagged, flag, flagged.c.flags.like(flag.c.pattern))
        return scope.open_from_select(self.subject_type, candidates)

    def resolve(self, scope: Scope) -> Counter:
        kind = ExceptionKind.TOO_FEW_COLLECTORS
        still_flagged = exists().where(
            VisitReport.id == ITEMS.c.subject_id,
            VisitReport.flags.like(f'%"{kind.value}"%'),
        )
        return Counter({kind: scope.resolve(kind, ~still_flagged, CLEARED[kind])})


def _photos(visit_id, *conditions):
    return (
        select(func.count())
        .where(
            EvidenceFile.record_type == "visit_report",
            EvidenceFile.record_id == visit_id,
            IMAGE,
            *conditions,
        )
        .correlate_except(EvidenceFile)
        .scalar_subquery()
    )


def _photo_declared(visit_id, *conditions) -> ColumnElement:
    # SELECT 1, not *: SQLite then answers from the index alone.
    return exists(
        select(literal_column("1")).where(
            EvidenceFile.record_type == "visit_report",
            EvidenceFile.record_id == visit_id,
            IMAGE,
            *conditions,
        )
    )


def _photo_arrived(visit_id) -> ColumnElement:
    return _photo_declared(visit_id, EvidenceFile.status == UploadStatus.COMPLETE)


def _missing_photos(scope: Scope) -> Select:
    """No photo of the visit on the server: none declared, or none uploaded in time (the
    cheap test first: few visits arrived within the grace time)."""
    late = VisitReport.received_at < scope.ago(hours=scope.settings.upload_stuck_after_hours)
    kind, action = scope.kind(ExceptionKind.MISSING_PHOTOS), literal("review_visit_photos")
    detail = scope.json_object(photos_declared=_photos(VisitReport.id))
    return _visits(scope, kind, action, detail).where(
        ~_photo_arrived(VisitReport.id), or_(late, ~_photo_declared(VisitReport.id))
    )


MISSING_PHOTOS = SqlDetector(
    ExceptionKind.MISSING_PHOTOS,
    "visit_report",
    _missing_photos,
    holds=lambda scope: ~_photo_arrived(ITEMS.c.subject_id),
)


# --- phones -----------------------------------------------------------------------------------


def _silent(scope: Scope, device) -> list[ColumnElement]:
    """A collector's phone, the last one they used, unheard of since the threshold."""
    seen = func.coalesce(device.last_seen_at, device.registered_at)
    other = aliased(Device)
    other_seen = func.coalesce(other.last_seen_at, other.registered_at)
    return [
        device.revoked_at.is_(None),
        User.is_active.is_(True),
        User.role == Role.COLLECTOR,
        seen < scope.ago(hours=scope.settings.device_silent_after_hours),
        ~exists().where(  # a later phone of theirs replaces this one
            other.user_id == device.user_id,
            other.revoked_at.is_(None),
            or_(other_seen > seen, and_(other_seen == seen, other.id > device.id)),
        ),
    ]


def _silent_devices(scope: Scope) -> Select:
    stmt = (
        select(
            scope.kind(ExceptionKind.DEVICE_SILENT),
            Device.id.label("subject_id"),
            cast(null(), BigInteger).label("case_id"),
            User.team_id.label("team_id"),
            User.id.label("collector_id"),
            _actor(ExceptionActor.COLLECTOR).label("actor"),
            literal("sync_device").label("action"),
            func.coalesce(Device.last_seen_at, Device.registered_at).label("occurred_at"),
            scope.json_object(label=Device.label, platform=Device.platform).label("detail"),
        )
        .join(User, User.id == Device.user_id)
        .where(*_silent(scope, Device))
    )
    return scope.of_team(stmt, User.team_id)


def _still_silent(scope: Scope) -> ColumnElement:
    return exists(
        select(Device.id)
        .join(User, User.id == Device.user_id)
        .where(Device.id == ITEMS.c.subject_id, *_silent(scope, Device))
    )


SILENT_DEVICES = SqlDetector(
    ExceptionKind.DEVICE_SILENT, "device", _silent_devices, holds=_still_silent
)


# --- proposals and uploads --------------------------------------------------------------------


def _pending_proposals(scope: Scope) -> Select:
    stmt = (
        select(
            scope.kind(ExceptionKind.PROPOSAL_UNREVIEWED),
            FieldProposal.id.label("subject_id"),
            FieldProposal.case_id.label("case_id"),
            Case.team_id.label("team_id"),
            FieldProposal.author_id.label("collector_id"),
            _actor(ExceptionActor.SUPERVISOR).label("actor"),
            literal("review_proposal").label("action"),
            FieldProposal.received_at.label("occurred_at"),
            scope.json_object(proposal_kind=FieldProposal.kind).label("detail"),
        )
        .join(Case, Case.id == FieldProposal.case_id)
        .where(FieldProposal.status == ProposalStatus.PENDING)
    )
    return scope.of_team(stmt, Case.team_id)


PENDING_PROPOSALS = SqlDetector(
    ExceptionKind.PROPOSAL_UNREVIEWED,
    "field_proposal",
    _pending_proposals,
    holds=lambda scope: exists().where(
        FieldProposal.id == ITEMS.c.subject_id, FieldProposal.status == ProposalStatus.PENDING
    ),
)


def _stuck_uploads(scope: Scope) -> Select:
    stmt = (
        select(
            scope.kind(ExceptionKind.UPLOAD_STUCK),
            EvidenceFile.id.label("subject_id"),
            EvidenceFile.case_id.label("case_id"),
            Case.team_id.label("team_id"),
            EvidenceFile.uploader_id.label("collector_id"),
            _actor(ExceptionActor.COLLECTOR).label("actor"),
            literal("finish_upload").label("action"),
            EvidenceFile.declared_at.label("occurred_at"),
            scope.json_object(
                file_kind=EvidenceFile.kind,
                record_type=EvidenceFile.record_type,
                record_id=EvidenceFile.record_id,
            ).label("detail"),
        )
        .join(Case, Case.id == EvidenceFile.case_id)
        .where(
            EvidenceFile.status == UploadStatus.PENDING,
            EvidenceFile.kind.not_in(SERVER_MADE),  # the server's to make, not the collector's
            EvidenceFile.declared_at < scope.ago(hours=scope.settings.upload_stuck_after_hours),
        )
    )
    return scope.of_team(stmt, Case.team_id)


STUCK_UPLOADS = SqlDetector(
    ExceptionKind.UPLOAD_STUCK,
    "evidence_file",
    _stuck_uploads,
    holds=lambda scope: exists().where(
        EvidenceFile.id == ITEMS.c.subject_id, EvidenceFile.status == UploadStatus.PENDING
    ),
)

SERVER_FAILED = or_(EvidenceFile.status == UploadStatus.FAILED,
                    EvidenceFile.thumbnail_status == UploadStatus.FAILED)
# Being made again at an administrator's request (POST /admin/server-files/{id}/retry): its
# item stays until the job has made the file (then it clears) or it is failed again.
BEING_REMADE = or_(and_(EvidenceFile.kind.in_(SERVER_MADE),
                        EvidenceFile.status == UploadStatus.PENDING),
                   EvidenceFile.thumbnail_status == UploadStatus.PENDING)


def _server_files_failed(scope: Scope) -> Select:
    """Files the server could not make (a promise's PDF, a photo's thumbnail) after retrying:
    the administrator's to repair, nobody's in the field. `subject_id` is the file's id, the
    one `POST /admin/server-files/{file_id}/retry` takes; `derived` says which file it makes
    again (`promise_pdf`: the file itself, `thumbnail`: the photo's thumbnail)."""
    stmt = (
        select(
            scope.kind(ExceptionKind.SERVER_FILE_FAILED),
            EvidenceFile.id.label("subject_id"),
            EvidenceFile.case_id.label("case_id"),
            Case.team_id.label("team_id"),
            cast(null(), BigInteger).label("collector_id"),
            _actor(ExceptionActor.ADMIN).label("actor"),
            literal("repair_server_file").label("action"),
            EvidenceFile.declared_at.label("occurred_at"),
            scope.json_object(
                file_kind=EvidenceFile.kind,
                record_type=EvidenceFile.record_type,
                record_id=EvidenceFile.record_id,
                derived=case((EvidenceFile.status == UploadStatus.FAILED, literal("promise_pdf")),
                             else_=literal("thumbnail")),
                error=EvidenceFile.server_error,
            ).label("detail"),
        )
        .join(Case, Case.id == EvidenceFile.case_id)
        .where(SERVER_FAILED)
    )
    return scope.of_team(stmt, Case.team_id)


SERVER_FILES_FAILED = SqlDetector(
    ExceptionKind.SERVER_FILE_FAILED,
    "evidence_file",
    _server_files_failed,
    holds=lambda scope: exists().where(EvidenceFile.id == ITEMS.c.subject_id,
                                       or_(SERVER_FAILED, BEING_REMADE)),
)

VISIT_DETECTORS = (FlaggedVisits(), MISSING_PHOTOS)
