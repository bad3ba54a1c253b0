"""Notices served (催收通知书 / 律师函 送达): proof of service interrupts the limitation period,
so each carries a photo of the acknowledgement."""

from __future__ import annotations

from api.models import Contact, EvidenceKind, NoticeServed, VisitReport
from api.services.compliance import checks, contact_rules
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files


def record_notice(ctx: FieldContext, data: dict) -> NoticeServed:
    record_id = str(data["id"])
    if data["visit_report_id"] is not None:
        ctx.own(VisitReport, str(data["visit_report_id"]), "visit_report_id")
    ctx.own(Contact, data["served_to_contact_id"], "served_to_contact_id", debtor=True)
    contact_rules.check_shown_loan_data(ctx, data, "served_to_contact_id")
    notice = NoticeServed(
        **ctx.record_fields(record_id),
        visit_report_id=id_or_none(data["visit_report_id"]),
        notice_type=data["notice_type"],
        served_to_name=data["served_to_name"],
        served_to_role=data["served_to_role"],
        served_to_contact_id=data["served_to_contact_id"],
        method=data["method"],
        served_at=data["served_at"],
        lat=data["lat"],
        lon=data["lon"],
    )
    ctx.session.add(notice)
    declare_files(ctx, "notice_served", record_id, data["files"], require=EvidenceKind.NOTICE)
    if not checks.within_visit_hours(data["served_at"], ctx.timezone, ctx.policy):
        ctx.flags.append("outside_visit_hours")
    return notice
