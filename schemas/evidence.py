"""Evidence files: upload targets, completion, chain of custody, downloads."""

import marshmallow as ma

from api.extensions import Schema

SHA256_EXAMPLE = "17307b1207eb6487d7908e9d154890b46e3d2e0192369cfd3f4c33d5a5af4035"
FILE_ID_EXAMPLE = "0d6f6a3e-3c1b-4a8e-9a59-5b0c2f1e7d42"


class UploadTargetSchema(Schema):
    file_id = ma.fields.String(metadata={"example": FILE_ID_EXAMPLE})
    status = ma.fields.String(metadata={"example": "pending"})
    method = ma.fields.String(metadata={"example": "PUT"})
    url = ma.fields.String(
        metadata={
            "description": "PUT the file's bytes here, unchanged, with exactly `headers`. In "
            "local mode the URL is relative to the API's base URL (`/blobs/...`).",
            "example": "/blobs/evidence/17/0d6f6a3e-3c1b-4a8e-9a59-5b0c2f1e7d42/original"
            "?exp=1795600000&sha256=17307b12...&size=161713&ct=image%2Fjpeg&sig=Qk9n...",
        }
    )
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={
            "description": "headers to send with the PUT (S3 checks the signed checksum)",
            "example": {"Content-Type": "image/jpeg", "Content-Length": "161713"},
        },
    )
    expires_at = ma.fields.AwareDateTime(metadata={"description": "ask again after this"})


class BlobStoredSchema(Schema):
    file_id = ma.fields.String(metadata={"example": FILE_ID_EXAMPLE})
    key = ma.fields.String()
    status = ma.fields.String(
        metadata={
            "description": "stored | already_stored (the same bytes were there) | complete "
            "(already verified; nothing was written)",
            "example": "stored",
        }
    )
    size = ma.fields.Integer(metadata={"example": 161713})
    sha256 = ma.fields.String(metadata={"example": SHA256_EXAMPLE})


class SignedBlobArgsSchema(Schema):
    """The query of a locally signed URL, exactly as the server issued it."""

    exp = ma.fields.String(required=True, metadata={"description": "expiry, Unix seconds"})
    sha256 = ma.fields.String(metadata={"description": "uploads: the declared SHA-256"})
    size = ma.fields.String(metadata={"description": "uploads: the declared size in bytes"})
    ct = ma.fields.String(metadata={"description": "uploads: the declared content type"})
    fn = ma.fields.String(metadata={"description": "downloads: the attachment's file name"})
    sig = ma.fields.String(required=True, metadata={"description": "HMAC-SHA256 signature"})


class EvidenceFileSchema(Schema):
    id = ma.fields.String(metadata={"example": FILE_ID_EXAMPLE})
    case_id = ma.fields.Integer(metadata={"example": 17})
    record_type = ma.fields.String(metadata={"example": "visit_report"})
    record_id = ma.fields.String()
    kind = ma.fields.String(metadata={"example": "doorplate"})
    mime = ma.fields.String(metadata={"example": "image/jpeg"})
    status = ma.fields.String(metadata={"example": "complete", "description": "pending|complete"})
    sha256 = ma.fields.String(metadata={"example": SHA256_EXAMPLE})
    size = ma.fields.Integer(metadata={"example": 161713})
    captured_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "as declared by the phone"}
    )
    lat = ma.fields.Float(allow_none=True, metadata={"description": "declared, WGS84"})
    lon = ma.fields.Float(allow_none=True)
    accuracy_m = ma.fields.Float(allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    declared_at = ma.fields.AwareDateTime()
    completed_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "when the server received and verified it"}
    )
    flags = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "where the file's own EXIF disagrees with the declaration",
            "example": ["exif_time_mismatch", "exif_gps_far_from_declared"],
        },
    )
    exif = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "what the image says about itself (time, GPS, camera)",
            "example": {
                "format": "JPEG",
                "width": 640,
                "height": 480,
                "make": "NIKON",
                "model": "COOLPIX P6000",
                "taken_at": "2008-10-22T16:28:39",
                "taken_at_source": "DateTimeOriginal",
                "gps_lat": 43.4674483,
                "gps_lon": 11.8851267,
                "gps_datum": "WGS-84",
            },
        },
    )
    has_thumbnail = ma.fields.Boolean()
    thumbnail_status = ma.fields.String(
        allow_none=True, metadata={"description": "a photo's thumbnail, made by a job after "
                                   "the upload completes: `pending`, then `complete` (or "
                                   "`failed`); null: none"})
    server_error = ma.fields.String(
        allow_none=True, metadata={"description": "why the server could not make this file "
                                   "(`status` failed) or its thumbnail (`thumbnail_status` "
                                   "failed) after retrying"})
    last_error = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "why the last upload or completion was refused",
            "example": "checksum_mismatch: the file's SHA-256 differs from the declared one",
        },
    )


class PersonSchema(Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    full_name = ma.fields.String()


class RecordRefSchema(Schema):
    type = ma.fields.String(metadata={"example": "visit_report"})
    id = ma.fields.String()


class CapturedSchema(Schema):
    at = ma.fields.AwareDateTime(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    accuracy_m = ma.fields.Float(allow_none=True)


class AccessSchema(Schema):
    audit_id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    action = ma.fields.String(metadata={"example": "evidence.download"})
    actor = ma.fields.Nested(PersonSchema, allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    variant = ma.fields.String(allow_none=True, metadata={"example": "original"})
    pack_id = ma.fields.String(allow_none=True)


class CustodyFileSchema(EvidenceFileSchema):
    record = ma.fields.Nested(RecordRefSchema)
    captured = ma.fields.Nested(CapturedSchema)
    uploader = ma.fields.Nested(PersonSchema, allow_none=True)
    received_at = ma.fields.AwareDateTime(allow_none=True)
    accesses = ma.fields.List(ma.fields.Nested(AccessSchema))


class PackExportSchema(Schema):
    pack_id = ma.fields.String()
    audit_id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    actor = ma.fields.Nested(PersonSchema, allow_none=True)
    files = ma.fields.Integer()
    manifest_sha256 = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "recorded when the pack finished streaming; check a pack with "
            "`fieldvisit evidence verify PACK.zip --manifest-sha256 <this>`"
        },
    )


class ChainOfCustodySchema(Schema):
    case_id = ma.fields.Integer()
    contract_no = ma.fields.String()
    files = ma.fields.List(ma.fields.Nested(CustodyFileSchema))
    packs = ma.fields.List(ma.fields.Nested(PackExportSchema))


class DownloadArgsSchema(Schema):
    variant = ma.fields.String(
        load_default="original", validate=ma.validate.OneOf(["original", "thumbnail"])
    )


class DownloadLinkSchema(Schema):
    file_id = ma.fields.String(metadata={"example": FILE_ID_EXAMPLE})
    variant = ma.fields.String(metadata={"example": "original"})
    url = ma.fields.String(
        metadata={
            "description": "a short-lived signed URL (S3 presigned GET, or `/blobs/...` "
            "relative to the API in local mode)"
        }
    )
    expires_at = ma.fields.AwareDateTime()
    filename = ma.fields.String(
        metadata={"example": "visit_report-doorplate-0d6f6a3e-3c1b-4a8e-9a59-5b0c2f1e7d42.jpg"}
    )
    sha256 = ma.fields.String(allow_none=True, metadata={"example": SHA256_EXAMPLE})
