"""The `promise_pdf` job: a signed repayment promise rendered to its PDF, stored beside the
record with its SHA-256 (`api.services.fieldwork.promises`). Asked for by the filing (push or
online) in its transaction; its commit puts the case's document again, so the phone learns
from its next pull that the PDF is ready; so does its failure for good (`pdf_status`
`failed`), the slot's status not being part of the document's rows."""

from __future__ import annotations

from flask import current_app

from api.jobs import JobContext, job_kind
from api.services.fieldwork import promises
from mobile_sync.changelog import touch_cases


def _failed(session, payload: dict, error: str) -> None:
    case_id = promises.pdf_failed(session, payload["promise_id"], error)
    if case_id is not None:
        touch_cases(session, [case_id])  # the phone's next pull says `failed`


@job_kind(promises.PDF_JOB, retries=promises.PDF_RETRIES, on_failure=_failed)
def render_promise_pdf(ctx: JobContext) -> dict:
    """Payload: `{"promise_id", "overdue_fen", "timezone"}` (as of the signing). The result
    names the file and its SHA-256 (`file_id` null: the promise is gone). No transaction is
    open while the PDF is rendered (on SQLite one holds the write lock)."""
    payload, session = ctx.payload, ctx.session
    document = promises.pdf_document(
        session, payload["promise_id"], cipher=current_app.extensions["fieldvisit.pii"],
        overdue_fen=payload["overdue_fen"], timezone=payload["timezone"])
    session.commit()
    stored = None
    if document is not None:
        stored = promises.store_pdf(session, payload["promise_id"], document,
                                    current_app.extensions["fieldvisit.blobs"])
        session.commit()
    return {"promise_id": payload["promise_id"], **(stored or {"file_id": None, "sha256": None})}
