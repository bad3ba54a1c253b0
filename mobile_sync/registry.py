"""Every mutation type a phone may push: its payload schema, the record it creates and the
field-work service that files it. Adding a type is a line here (and its schema and service)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import marshmallow as ma

from api.models import (
    CaseNote,
    ContactAttempt,
    FieldProposal,
    FieldReceipt,
    NoticeServed,
    ReachabilityChange,
    RepaymentPromise,
    Repossession,
    VehicleSighting,
    VisitPresence,
    VisitReport,
)
from api.services.fieldwork import (
    contacts,
    notices,
    presence,
    promises,
    proposals,
    reachability,
    receipts,
    vehicles,
    visits,
)
from api.services.fieldwork.context import FieldContext
from schemas import fieldwork as payloads


@dataclass(frozen=True)
class MutationType:
    schema: type[ma.Schema]
    model: type
    apply: Callable[[FieldContext, dict], object]
    # Any collector of the case's team may file it, not only its holder (a co-collector's
    # presence at the door); see `api.services.fieldwork.filing.case_for_filer`.
    team_may_file: bool = False


MUTATIONS: dict[str, MutationType] = {
    "contact_attempt": MutationType(
        payloads.ContactAttemptSchema, ContactAttempt, contacts.record_contact_attempt
    ),
    "case_note": MutationType(payloads.CaseNoteSchema, CaseNote, contacts.add_note),
    "field_proposal": MutationType(payloads.FieldProposalSchema, FieldProposal, proposals.propose),
    "visit_report": MutationType(payloads.VisitReportSchema, VisitReport, visits.file_visit),
    "visit_presence": MutationType(
        payloads.PresenceSchema, VisitPresence, presence.record_presence, team_may_file=True
    ),
    "repayment_promise": MutationType(
        payloads.PromiseSchema, RepaymentPromise, promises.record_promise
    ),
    "field_receipt": MutationType(payloads.ReceiptSchema, FieldReceipt, receipts.record_receipt),
    "notice_served": MutationType(payloads.NoticeSchema, NoticeServed, notices.record_notice),
    "vehicle_sighting": MutationType(
        payloads.SightingSchema, VehicleSighting, vehicles.record_sighting
    ),
    "repossession": MutationType(
        payloads.RepossessionSchema, Repossession, vehicles.record_repossession
    ),
    "reachability": MutationType(
        payloads.ReachabilitySchema, ReachabilityChange, reachability.record_reachability
    ),
}
