"""Every mutation type a phone may push, by name."""

from api.models import (
    CaseNote,
    ContactAttempt,
    FieldProposal,
    FieldReceipt,
    NoticeServed,
    RepaymentPromise,
    Repossession,
    VehicleSighting,
    VisitReport,
)
from mobile_sync import field_mutations as field
from mobile_sync.mutations import (
    CaseNoteSchema,
    ContactAttemptSchema,
    FieldProposalSchema,
    MutationType,
    apply_case_note,
    apply_contact_attempt,
    apply_field_proposal,
)

MUTATIONS: dict[str, MutationType] = {
    "contact_attempt": MutationType(ContactAttemptSchema, ContactAttempt, apply_contact_attempt),
    "case_note": MutationType(CaseNoteSchema, CaseNote, apply_case_note),
    "field_proposal": MutationType(FieldProposalSchema, FieldProposal, apply_field_proposal),
    "visit_report": MutationType(field.VisitReportSchema, VisitReport, field.apply_visit_report),
    "repayment_promise": MutationType(field.PromiseSchema, RepaymentPromise, field.apply_promise),
    "field_receipt": MutationType(field.ReceiptSchema, FieldReceipt, field.apply_receipt),
    "notice_served": MutationType(field.NoticeSchema, NoticeServed, field.apply_notice),
    "vehicle_sighting": MutationType(field.SightingSchema, VehicleSighting, field.apply_sighting),
    "repossession": MutationType(field.RepossessionSchema, Repossession, field.apply_repossession),
}
