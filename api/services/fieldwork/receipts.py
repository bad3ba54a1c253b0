"""Field receipts (现金收据): money taken in the field, numbered from the receipt book, each with
a photo of the receipt."""

from __future__ import annotations

from sqlalchemy import select

from api.models import Contact, EvidenceKind, FieldReceipt, VisitReport
from api.services.compliance import contact_rules
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files


def record_receipt(ctx: FieldContext, data: dict) -> FieldReceipt:
    record_id = str(data["id"])
    if ctx.session.scalar(
        select(FieldReceipt.id).where(FieldReceipt.receipt_no == data["receipt_no"])
    ):
        raise InvalidInput(
            f"Receipt {data['receipt_no']} was already filed.",
            fields={"receipt_no": ["already used"]},
            code="conflict",
        )
    if data["visit_report_id"] is not None:
        ctx.own(VisitReport, str(data["visit_report_id"]), "visit_report_id")
    ctx.own(Contact, data["payer_contact_id"], "payer_contact_id", debtor=True)
    contact_rules.check_payer(ctx, data, "payer_contact_id")
    receipt = FieldReceipt(
        **ctx.record_fields(record_id),
        visit_report_id=id_or_none(data["visit_report_id"]),
        receipt_no=data["receipt_no"],
        amount_fen=data["amount_fen"],
        method=data["method"],
        payer_name=data["payer_name"],
        payer_contact_id=data["payer_contact_id"],
        paid_at=data["received_at"],
    )
    ctx.session.add(receipt)
    declare_files(ctx, "field_receipt", record_id, data["files"], require=EvidenceKind.RECEIPT)
    return receipt
