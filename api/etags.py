"""ETags on what two people may edit at once (a case's assignment, a user, a proposal), and
`If-Match` on their updates.

A tag is weak (`W/"..."`): it names the version of the record's editable state, not the bytes
of one role's masked view. A case's is its `version` counter; a user's and a proposal's are a
digest of their editable fields (they have no counter). `If-Match` is optional, so existing
clients keep working; when sent it is compared weakly, and a tag that is no longer current is
412 before anything changes. (flask-smorest's `blp.etag` hashes the response body and requires
`If-Match` on PUT/PATCH only, which fits neither the masked views nor the POST of a review.)
"""

from __future__ import annotations

import hashlib
import json

from flask import request

from api.models import Case, FieldProposal, User
from api.services.exceptions import DomainError


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"


def case_etag(case: Case) -> str:
    return f'W/"case-{case.id}-v{case.version}"'


def user_etag(user: User) -> str:
    return _digest_etag(
        "user",
        user.id,
        [user.username, user.full_name, user.role.value, user.team_id, user.is_active,
         user.token_generation,  # a new password moves the generation on
         user.base_lat, user.base_lon],
    )


def proposal_etag(proposal: FieldProposal) -> str:
    return _digest_etag(
        "proposal", proposal.id, [proposal.status.value, str(proposal.reviewed_at)]
    )


def _digest_etag(kind: str, row_id, state: list) -> str:
    digest = hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()[:16]
    return f'W/"{kind}-{row_id}-{digest}"'


def check_if_match(current: str) -> None:
    """412 if the request's `If-Match` does not name `current` (no `If-Match`: no check)."""
    if_match = request.if_match
    if not if_match:
        return
    if not if_match.contains_weak(current.removeprefix("W/").strip('"')):
        raise PreconditionFailed(
            "This record changed since you read it (your If-Match is not its current ETag); "
            "nothing was changed: read it again."
        )


def with_etag(body, etag: str, status: int = 200):
    """A view's answer with its ETag header (flask-smorest takes `(body, status, headers)`)."""
    return body, status, {"ETag": etag}
