"""Filing online: a supervisor on a visit, or a collector with signal, files the same records a
phone pushes (`POST /sync/push`), through the same services and the same dispatch table
(`mobile_sync.registry`), so both produce identical records, flags and change-log entries.

Each route takes the push payload of its record type as the body, with the case from the path.
"""

from __future__ import annotations

from functools import partial

from flask import current_app
from flask.views import MethodView

from api.auth import auth_required, current_principal, token_service
from api.errors import error_response
from api.extensions import Blueprint, db
from api.models import Role
from api.services.fieldwork.filing import AlreadyFiled, FilingEnvironment, file_online
from mobile_sync.registry import MUTATIONS
from schemas import filing as bodies

blp = Blueprint(
    "filing",
    __name__,
    description="Filing field records online: the records a phone pushes, posted with signal",
)

LOCATION = {
    "Location": {
        "description": "where the record is read, e.g. `/visits/{id}`; for contact attempts, "
        "notes and proposals, which have no reading of their own: the case's timeline",
        "schema": {"type": "string"},
    }
}
COMMON = (
    "The body is the `{type}` payload of a push (docs/sync.md) with `case_id` taken from the "
    "path (leave it out, or give the same). `id` is the client's UUID for the record: send the "
    "same id again after a lost answer and get `409 already_filed` with the record's "
    "`Location` (nothing is changed); leave it out and the server chooses one. Rules that "
    "cannot refuse (hours, geofence, two collectors, clock) raise `flags`, never a refusal. "
    "The collector holding the case and the supervisors of its team may file."
)

# path under /cases/{case_id}, record type (as pushed), body, where it is read, summary
ROUTES = (
    ("visits", "visit_report", bodies.OnlineVisitSchema, "visits",
     "File a visit report: fixes, who was there, outcome (geofence and hours are flagged)"),
    ("promises", "repayment_promise", bodies.OnlinePromiseSchema, "promises",
     "File a signed repayment promise (the server renders its PDF)"),
    ("receipts", "field_receipt", bodies.OnlineReceiptSchema, "receipts",
     "File a field receipt for money taken (numbered once, with a receipt photo)"),
    ("notices", "notice_served", bodies.OnlineNoticeSchema, "notices",
     "File a notice served (催收通知书 / 律师函 送达)"),
    ("sightings", "vehicle_sighting", bodies.OnlineSightingSchema, "sightings",
     "File a vehicle sighting (VIN, engine number and plate compared with the file)"),
    ("repossessions", "repossession", bodies.OnlineRepossessionSchema, "repossessions",
     "File a repossession of the case's vehicle or machine"),
    ("contact-attempts", "contact_attempt", bodies.OnlineContactAttemptSchema,
     None, "File a call, SMS or visit attempt (the daily call limit is flagged)"),
    ("notes", "case_note", bodies.OnlineCaseNoteSchema, None, "File a case note"),
    ("proposals", "field_proposal", bodies.OnlineFieldProposalSchema, None,
     "Propose a phone, address or contact learnt in the field (reviewed, never an overwrite)"),
    ("presence", "visit_presence", bodies.OnlinePresenceSchema, None,
     "Record your own presence at the case's door (pairs with the visit report naming you; "
     "any collector of the case's team may)"),
)


def filing_environment() -> FilingEnvironment:
    principal = current_principal()
    return FilingEnvironment(
        cipher=current_app.extensions["fieldvisit.pii"],
        blobs=current_app.extensions["fieldvisit.blobs"],
        verify_cosign=partial(token_service().verify_cosign, device_id=principal.device_id),
    )


def _filing_view(record_type: str, schema, read_path: str | None, summary: str) -> type[MethodView]:
    kind = MUTATIONS[record_type]

    def location(case_id: int, record_id: str) -> str:
        return f"/{read_path}/{record_id}" if read_path else f"/cases/{case_id}/timeline"

    def post(self, args, case_id):
        try:
            filed = file_online(
                db.session,
                current_principal(),
                case_id,
                record_type=record_type,
                model=kind.model,
                apply=kind.apply,
                data=args,
                env=filing_environment(),
                team=kind.team_may_file,
            )
        except AlreadyFiled as exc:
            db.session.rollback()
            return error_response(
                409,
                exc.message,
                code=exc.code,
                fields=exc.fields,
                headers={"Location": location(case_id, exc.record_id)},
            )
        db.session.commit()
        body = {"type": filed.type, "record_id": filed.record_id, "flags": filed.flags}
        return body, 201, {"Location": location(case_id, filed.record_id)}

    post.__doc__ = f"{summary}\n\n{COMMON.format(type=record_type)}"
    decorators = (
        auth_required(Role.COLLECTOR, Role.SUPERVISOR),
        blp.arguments(schema),
        blp.response(201, bodies.FiledSchema, headers=LOCATION),
        blp.alt_response(404, description="No such case, or not one you may file for"),
        blp.alt_response(
            409,
            description="`already_filed`: you filed this id on this case before (`Location` "
            "names it); `conflict`: the id is taken by another record",
        ),
        blp.alt_response(
            422,
            description="A field is not valid or breaks a rule (`fields` name it as in the "
            "body: a case_id other than the path's, a receipt number or file id already "
            "used, a missing signature...); nothing is saved",
        ),
    )
    for decorator in reversed(decorators):
        post = decorator(post)
    name = "File" + "".join(part.title() for part in record_type.split("_"))
    return type(name, (MethodView,), {"post": post})


for _path, _type, _schema, _read, _summary in ROUTES:
    blp.route(f"/cases/<int:case_id>/{_path}")(_filing_view(_type, _schema, _read, _summary))
