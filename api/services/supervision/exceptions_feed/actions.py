"""What resolves each exception: an action code with the sentence shown to whoever should act,
and the note a scan writes when it finds the condition cleared."""

from __future__ import annotations

from api.models import ExceptionKind

ACTIONS = {
    "review_location": "Review the visit: the GPS fix was outside the geofence around the "
    "visited address.",
    "review_visit_hours": "Review the visit: it started or ended outside the debtor-local "
    "visit hours.",
    "arrange_second_collector": "Review the lone visit, and send a second collector next "
    "time as the policy requires.",
    "review_visit_photos": "Review the visit: no photo of it has reached the server.",
    "call_debtor": "Call the debtor about the broken promise and agree what comes next.",
    "review_for_litigation": "Add the broken promise to the case's litigation file.",
    "remind_debtor": "Remind the debtor that a promised payment is due today.",
    "sync_device": "Open the app on this phone and sync (or sign in again).",
    "review_proposal": "Accept or reject the proposed phone, address or contact.",
    "finish_upload": "Open the app on a network so the pending file finishes uploading.",
    "repair_server_file": "The server could not make this file (a promise's PDF or a photo's "
    "thumbnail) after retrying; nobody in the field need do anything. Administrator: read the "
    "error here and the failed job (GET /jobs?kind=promise_pdf or thumbnail, and the server's "
    "logs), repair the cause (the blob store, the disk, the record's data), then have it made "
    "again: POST /admin/server-files/{subject_id}/retry.",
}

# Why a scan resolved an item by itself.
CLEARED = {
    ExceptionKind.MISSING_PHOTOS: "a photo of the visit has arrived",
    ExceptionKind.TOO_FEW_COLLECTORS: "a second collector's presence verified the visit",
    ExceptionKind.PROMISE_BROKEN: "the promise is no longer broken, or the case is closed",
    ExceptionKind.PROMISE_DUE_TODAY: "the day's amount is paid, the day is over, or the "
    "promise is no longer pending",
    ExceptionKind.DEVICE_SILENT: "the phone synced, was revoked or replaced",
    ExceptionKind.PROPOSAL_UNREVIEWED: "the proposal was reviewed",
    ExceptionKind.UPLOAD_STUCK: "the upload completed",
    ExceptionKind.SERVER_FILE_FAILED: "the server made the file after all",
}


def action_text(code: str) -> str:
    return ACTIONS.get(code, code)
