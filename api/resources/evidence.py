"""Photos and documents: out-of-band uploads, completion, chain of custody, signed downloads and
evidence packs (docs: DESIGN.md "Photos and documents", "Evidence and audit")."""

import json
import mimetypes
from urllib.parse import quote

from flask import Response, current_app, request, send_file, stream_with_context
from flask.views import MethodView
from werkzeug.exceptions import ClientDisconnected

from api import jobs
from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.jobs import access
from api.jobs.evidence_pack import PACK_ROLES
from api.models import JobStatus, Role
from api.services.evidence import custody, packs, uploads
from api.services.evidence.local_store import LocalBlobStore
from api.services.evidence.pack_format import iter_pack
from api.services.exceptions import Conflict, DomainError, InvalidInput, NotFound
from api.services.identity.access import get_visible_case
from schemas.evidence import (
    BlobStoredSchema,
    ChainOfCustodySchema,
    DownloadArgsSchema,
    DownloadLinkSchema,
    EvidenceFileSchema,
    SignedBlobArgsSchema,
    UploadTargetSchema,
)
from schemas.jobs import JobSchema

blp = Blueprint(
    "evidence",
    __name__,
    description="Photos and documents: upload, verification, chain of custody, downloads, packs",
)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # the largest declarable file (schemas.fieldwork.MAX_FILE)
UPLOAD_TYPES = (
    "image/jpeg",
    "image/heic",
    "image/heif",
    "image/png",
    "application/pdf",
    "application/octet-stream",
)
BINARY = {"schema": {"type": "string", "format": "binary"}}


def blob_store():
    return current_app.extensions["fieldvisit.blobs"]


def local_store() -> LocalBlobStore:
    store = blob_store()
    if not isinstance(store, LocalBlobStore):
        raise NotFound("Files are not served by this server (the blob store is S3).")
    return store


@blp.route("/evidence/<uuid:file_id>/upload-url")
class UploadUrl(MethodView):
    @auth_required(Role.COLLECTOR, Role.SUPERVISOR)
    @blp.response(200, UploadTargetSchema)
    @blp.alt_response(404, description="No such file, or not one you declared")
    @blp.alt_response(409, description="`already_complete`: the file was already received")
    def post(self, file_id):
        """Get a fresh signed URL to upload a declared file to

        The file was declared (id, SHA-256, size, type) inside a record pushed through
        `/sync/push` or filed online (`POST /cases/{case_id}/visits`, ...), by you. PUT its
        bytes to `url` with `headers`, then call `complete`. Ask again for a new URL whenever
        one expires or an upload fails."""
        return uploads.upload_target(db.session, current_principal(), str(file_id), blob_store())


@blp.route("/evidence/<uuid:file_id>/complete")
class CompleteUpload(MethodView):
    @auth_required(Role.COLLECTOR, Role.SUPERVISOR)
    @blp.response(200, EvidenceFileSchema)
    @blp.alt_response(404, description="No such file, or not one you declared")
    @blp.alt_response(409, description="`not_uploaded`: PUT the file first")
    @blp.alt_response(
        422,
        description="`checksum_mismatch` (fields `size`/`sha256`), `corrupt_image` or "
        "`not_a_pdf` (field `file`): upload the right file again; the slot stays pending",
    )
    def post(self, file_id):
        """Complete an upload: verify size and SHA-256, read EXIF, ask for the thumbnail

        Idempotent: completing a complete file returns it. EXIF time and GPS that disagree
        with the declaration are flagged, not refused. A refusal is noted on the slot
        (`last_error`), which stays pending."""
        try:
            done = uploads.complete_upload(
                db.session,
                current_principal(),
                str(file_id),
                blob_store(),
            )
        except DomainError:
            db.session.commit()  # only the slot's last_error was changed
            raise
        db.session.commit()
        return custody.describe_file(done)


@blp.route("/evidence/<uuid:file_id>/download")
class Download(MethodView):
    @auth_required()
    @blp.arguments(DownloadArgsSchema, location="query")
    @blp.response(200, DownloadLinkSchema)
    @blp.alt_response(404, description="No such file, or its case is not yours to see")
    @blp.alt_response(409, description="`not_uploaded`: the file has not been received yet; "
                      "`not_ready` (Retry-After): a file or thumbnail the server makes is not "
                      "made yet")
    @blp.alt_response(500, description="`server_file_failed`: the server could not make this "
                      "file or its thumbnail after retrying (the exceptions feed tells the "
                      "administrator); asking again does not help")
    def get(self, args, file_id):
        """Get a short-lived signed URL to download an original or its thumbnail (audited)"""
        link = custody.download_url(
            db.session, current_principal(), str(file_id), blob_store(), variant=args["variant"]
        )
        db.session.commit()
        return link


@blp.route("/cases/<int:case_id>/evidence")
class CaseEvidence(MethodView):
    @auth_required()
    @blp.response(200, ChainOfCustodySchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, case_id):
        """List a case's evidence with its chain of custody (audited)

        For each file: declared capture time and place, uploader and device, when it was
        declared and received, its SHA-256, flags, what its EXIF says, and every access since
        (downloads and packs). Packs carry the manifest SHA-256 recorded at export."""
        body = custody.case_evidence(db.session, current_principal(), case_id)
        db.session.commit()
        return body


PACK_DESCRIPTION = (
    "The pack: `originals/`, `manifest.json`, `manifest.sha256`, `audit.json`. Check it "
    "offline with `fieldvisit evidence verify PACK.zip`."
)


def pack_job_accepted(case_id: int):
    """Enqueue the `evidence_pack` job for the case and answer 202 with it."""
    job = jobs.enqueue(db.session, packs.PACK_JOB, {"case_id": case_id},
                       actor_id=current_principal().user_id)
    db.session.commit()
    return access.describe(job), 202, {"Location": f"/jobs/{job.id}"}


@blp.route("/cases/<int:case_id>/evidence-pack")
class CaseEvidencePack(MethodView):
    @auth_required(*PACK_ROLES)
    @blp.doc(
        responses={
            "200": {
                "description": f"{PACK_DESCRIPTION} Streamed (at most "
                "`FIELDVISIT_EVIDENCE_PACK_STREAM_MAX_FILES` received files).",
                "content": {"application/zip": BINARY},
            }
        }
    )
    @blp.alt_response(
        202, schema=JobSchema,
        description="More files than are streamed: an `evidence_pack` job builds the pack "
        "(`Location: /jobs/{id}`); download it from `GET /evidence-packs/{job_id}` once done",
    )
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, case_id):
        """Download a case's evidence pack: originals, manifest and audit trail, as a ZIP

        The export is audited before the first byte (`evidence.pack`, with every file id);
        the manifest's SHA-256 is audited when the stream ends (`evidence.pack_sealed`) and
        shown in the chain of custody, for `evidence verify --manifest-sha256`. A case with
        more received files than the server streams is answered 202 with a job instead
        (as `POST /cases/{case_id}/evidence-packs`)."""
        principal = current_principal()
        case = get_visible_case(db.session, principal, case_id)
        limit = current_app.config["FIELDVISIT"].evidence_pack_stream_max_files
        if packs.complete_file_count(db.session, case.id) > limit:
            return pack_job_accepted(case.id)
        pack = packs.prepare_pack(db.session, principal, case_id, blob_store())
        db.session.commit()

        def seal(manifest_sha256: str) -> None:
            packs.seal_pack(db.session, principal, pack, manifest_sha256)
            db.session.commit()

        chunks = iter_pack(pack.items, pack.manifest_meta, pack.audit_trail, on_manifest=seal)
        return Response(
            stream_with_context(chunks),
            mimetype="application/zip",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(pack.filename)}",
                "Cache-Control": "no-store",
                "X-Pack-Id": pack.pack_id,
            },
        )


@blp.route("/cases/<int:case_id>/evidence-packs")
class BuildEvidencePack(MethodView):
    @auth_required(*PACK_ROLES)
    @blp.response(202, JobSchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def post(self, case_id):
        """Build a case's evidence pack in the background, whatever its size

        Answers with the `evidence_pack` job (`Location: /jobs/{id}`); follow it with
        `GET /jobs/{id}` (progress counts files) and, once `done`, download the pack from
        `GET /evidence-packs/{job_id}`. Audited like a streamed pack: `evidence.pack` when the
        job starts gathering it, `evidence.pack_sealed` with the manifest's SHA-256 once it is
        stored."""
        case = get_visible_case(db.session, current_principal(), case_id)
        return pack_job_accepted(case.id)


@blp.route("/evidence-packs/<int:job_id>")
class StoredEvidencePack(MethodView):
    @auth_required(*PACK_ROLES)
    @blp.doc(
        responses={
            "200": {"description": PACK_DESCRIPTION, "content": {"application/zip": BINARY}}
        }
    )
    @blp.alt_response(404, description="No such pack job, or not yours; `pack_expired`: the "
                      "pack is no longer kept (7 days, or its case was purged)")
    @blp.alt_response(409, description="`pack_not_ready`: the job has not finished building it")
    def get(self, job_id):
        """Download an evidence pack built by a job (the job's owner or an administrator)

        Each download is audited (`evidence.pack_download`, with the pack's file ids) and
        shown in the chain of custody. The pack is kept for 7 days after it was built."""
        principal = current_principal()
        job = access.get_visible_job(db.session, principal, job_id)
        if job.kind != packs.PACK_JOB:
            raise NotFound("No such evidence pack.")
        if job.status != JobStatus.DONE or not job.result:
            raise Conflict(f"The pack is not built yet (the job is {job.status}).",
                           fields={"job_id": [job.status]}, code="pack_not_ready")
        result = json.loads(job.result)
        stream = packs.open_stored_pack(db.session, principal, result["case_id"], result,
                                        blob_store())
        db.session.commit()
        response = send_file(stream, mimetype="application/zip", as_attachment=True,
                             download_name=result["filename"], conditional=False, etag=False,
                             max_age=0)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Pack-Id"] = result["pack_id"]
        return response


class _RequestBody:
    """The request body for `put_stream`; a connection dropped mid-upload is a refusal that
    names the size, like any short upload."""

    def read(self, size: int = -1) -> bytes:
        try:
            return request.stream.read(size)
        except ClientDisconnected:
            raise InvalidInput(
                "the upload was interrupted before the declared size was received",
                fields={"size": ["the connection ended early; upload the file again"]},
                code="upload_interrupted",
            ) from None


@blp.route("/blobs/<path:key>")
class LocalBlob(MethodView):
    accepts_content = UPLOAD_TYPES

    @blp.arguments(SignedBlobArgsSchema, location="query")
    @blp.doc(
        security=[],
        requestBody={
            "required": True,
            "description": "the file's bytes, exactly as declared (streamed, up to 200 MB)",
            "content": {mime: BINARY for mime in UPLOAD_TYPES},
        },
    )
    @blp.response(200, BlobStoredSchema)
    @blp.alt_response(403, description="`bad_signature` or `url_expired`: ask for a new URL")
    @blp.alt_response(404, description="Not a local blob store, or no such file slot")
    @blp.body_limit(MAX_UPLOAD_BYTES)
    @blp.alt_response(415, description="Not an image, a PDF or application/octet-stream")
    @blp.alt_response(
        422,
        description="`checksum_mismatch` (fields `size`/`sha256`) or `upload_interrupted`: "
        "nothing was kept; upload again",
    )
    def put(self, _args, key):
        """Upload a declared file to the server (local blob store), streamed and verified

        The body is written to disk as it arrives, hashed on the way, and kept only if its
        size and SHA-256 match the signed declaration. Sending it again is harmless: a file
        already stored or completed is not rewritten. Only through a URL from `upload-url`;
        local blob store only (404 when the store is S3)."""
        store = local_store()
        grant = store.verify_signature("PUT", key, request.args)
        try:
            stored = uploads.receive_local_upload(db.session, store, grant, _RequestBody())
        except DomainError:
            db.session.commit()  # only the slot's last_error was changed
            raise
        db.session.commit()
        return stored

    @blp.arguments(SignedBlobArgsSchema, location="query")
    @blp.doc(
        security=[],
        responses={
            "200": {
                "description": "the file, as an attachment",
                "content": {"application/octet-stream": BINARY},
            }
        },
    )
    @blp.alt_response(403, description="`bad_signature` or `url_expired`: ask for a new URL")
    @blp.alt_response(404, description="Not a local blob store, or no such file")
    def get(self, _args, key):
        """Download a file through a signed URL (local blob store), streamed

        Only through a URL from `download`; local blob store only (404 when the store is S3).
        The grant was audited when the URL was issued."""
        store = local_store()
        grant = store.verify_signature("GET", key, request.args)
        name = grant.filename or key.rsplit("/", 1)[-1]
        stream = store.open(key)
        response = send_file(
            stream,
            mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
            as_attachment=True,
            download_name=name,
            conditional=False,
            etag=False,
            max_age=0,
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response
