"""Photos and documents: out-of-band uploads, completion, chain of custody, signed downloads and
evidence packs (docs: DESIGN.md "Photos and documents", "Evidence and audit")."""

import mimetypes
from urllib.parse import quote

from flask import Response, current_app, request, send_file, stream_with_context
from flask.views import MethodView
from werkzeug.exceptions import ClientDisconnected

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.services.evidence import custody, packs, uploads
from api.services.evidence.local_store import LocalBlobStore
from api.services.evidence.pack_format import iter_pack
from api.services.exceptions import DomainError, InvalidInput, NotFound
from schemas.evidence import (
    BlobStoredSchema,
    ChainOfCustodySchema,
    DownloadArgsSchema,
    DownloadLinkSchema,
    EvidenceFileSchema,
    SignedBlobArgsSchema,
    UploadTargetSchema,
)

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
        """Complete an upload: verify size and SHA-256, read EXIF, make the thumbnail

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
    @blp.alt_response(409, description="`not_uploaded`: the file has not been received yet")
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


@blp.route("/cases/<int:case_id>/evidence-pack")
class CaseEvidencePack(MethodView):
    @auth_required(Role.LEGAL, Role.ADMIN)
    @blp.doc(
        responses={
            "200": {
                "description": "The pack, streamed: `originals/`, `manifest.json`, "
                "`manifest.sha256`, `audit.json`. Check it offline with "
                "`fieldvisit evidence verify PACK.zip`.",
                "content": {"application/zip": BINARY},
            }
        }
    )
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, case_id):
        """Download a case's evidence pack: originals, manifest and audit trail, as a ZIP

        The export is audited before the first byte (`evidence.pack`, with every file id);
        the manifest's SHA-256 is audited when the stream ends (`evidence.pack_sealed`) and
        shown in the chain of custody, for `evidence verify --manifest-sha256`."""
        principal = current_principal()
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
