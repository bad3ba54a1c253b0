"""The server runs only on its own keys, and its keys rotate without breaking what they sealed.

Anyone can read the built-in development secret in the source: a server started with it would
accept forged access tokens and download links. Rotating a leaked key must leave old tokens
valid while the old key is listed, and every national ID readable and findable."""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from api import create_app
from api.config import DEV_SECRET_KEY, Config
from api.keys import InsecureConfiguration, blob_store
from api.services.evidence.local_store import sign_local
from api.services.evidence.storage import LocalGrant
from api.services.exceptions import Forbidden
from api.services.identity.pii import PiiCipher
from api.services.identity.tokens import TokenService

OWN_SECRET = "an own secret of more than thirty-two characters"
KEY_1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # bytes 0..31
KEY_2 = base64.b64encode(bytes(range(32, 64))).decode()
LOOKUP = base64.b64encode(bytes(range(64, 96))).decode()
NATIONAL_ID = "440308199901101512"
# Sealed by the cipher as it was before key rotation existed, under KEY_1, and its digest.
SEALED_BEFORE_ROTATION = "Ab1r39sEcl+g/OL3Kzz6oRKk+tyDKzUC97ifGQHR0KhQ9wxOhKLh81ir4E19VJs="
DIGEST_BEFORE_ROTATION = "624541de2275f5e30bc2c718cb05b59412a7ba8c5e99dee7876bd85433d729ba"


AUDIT_KEY = "1:" + base64.b64encode(bytes(range(96, 128))).decode()


def production(tmp_path, **settings) -> Config:
    settings.setdefault("audit_key", AUDIT_KEY)  # its own refusals: tests/ops/test_audit_chain.py
    return Config(database_url="sqlite://", blob_store=f"local:{tmp_path}", **settings)


def test_the_server_refuses_the_built_in_secret(tmp_path):
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_SECRET_KEY"):
        create_app(production(tmp_path, pii_key=KEY_1))


def test_the_server_refuses_to_derive_the_pii_key_from_the_secret(tmp_path):
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_PII_KEY"):
        create_app(production(tmp_path, secret_key=OWN_SECRET))
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_PII_KEY"):
        create_app(production(tmp_path, secret_key=OWN_SECRET, pii_key="not base64 at all"))


def test_the_built_in_secret_is_refused_among_the_previous_keys_too(tmp_path):
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_PREVIOUS_SECRET_KEYS"):
        create_app(production(tmp_path, secret_key=OWN_SECRET, pii_key=KEY_1,
                              previous_secret_keys=DEV_SECRET_KEY))


def test_a_retired_pii_key_1_needs_the_lookup_key_named(tmp_path):
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_PII_LOOKUP_KEY"):
        create_app(production(tmp_path, secret_key=OWN_SECRET, pii_key=f"2:{KEY_2}"))


def test_debug_is_an_explicit_choice_read_from_the_environment(tmp_path):
    config = Config.from_env({"FIELDVISIT_DEBUG": "1", "FIELDVISIT_DATABASE_URL": "sqlite://",
                              "FIELDVISIT_BLOB_STORE": f"local:{tmp_path}"})
    assert config.debug is True
    create_app(config)  # development: the built-in secret is accepted
    assert Config.from_env({}).debug is False


def test_a_token_forged_with_the_built_in_secret_is_refused(tmp_path):
    app = create_app(production(tmp_path, secret_key=OWN_SECRET, pii_key=KEY_1))
    forged = URLSafeTimedSerializer(DEV_SECRET_KEY, salt="fieldvisit.access").dumps(
        {"u": 1, "d": "00000000-0000-0000-0000-000000000000", "g": 0}
    )
    response = app.test_client().get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_token"


def test_a_download_link_forged_with_the_built_in_secret_is_refused(tmp_path):
    app = create_app(production(tmp_path, secret_key=OWN_SECRET, pii_key=KEY_1))
    grant = LocalGrant(method="GET", key="evidence/1/x/photo.jpg",
                       expires_at=int(time.time()) + 300)
    forged = sign_local(DEV_SECRET_KEY, grant)
    with pytest.raises(Forbidden, match="signature"):
        app.extensions["fieldvisit.blobs"].verify_signature("GET", grant.key, forged)


def test_a_token_signed_with_an_old_key_verifies_while_that_key_is_listed():
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    token = TokenService(None, [old], 900, 3600).signer.dumps({"u": 1, "d": "x", "g": 0})
    rotated = TokenService(None, [new, old], 900, 3600)
    assert rotated.signer.loads(token)["u"] == 1
    fresh = rotated.signer.dumps({"u": 2, "d": "x", "g": 0})
    assert TokenService(None, [new], 900, 3600).signer.loads(fresh)["u"] == 2  # signed by new
    with pytest.raises(Exception, match="Signature"):
        TokenService(None, [new], 900, 3600).signer.loads(token)  # old key dropped


def test_a_download_link_signed_with_an_old_key_verifies_while_that_key_is_listed(tmp_path):
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    before = blob_store(production(tmp_path, secret_key=old), base_url="/blobs")
    url = before.presign_get("evidence/1/x/photo.jpg")
    query = dict(parse_qsl(urlsplit(url).query))
    rotated = blob_store(production(tmp_path, secret_key=new, previous_secret_keys=old), "/blobs")
    assert rotated.verify_signature("GET", "evidence/1/x/photo.jpg", query).method == "GET"
    dropped = blob_store(production(tmp_path, secret_key=new), "/blobs")
    with pytest.raises(Forbidden):
        dropped.verify_signature("GET", "evidence/1/x/photo.jpg", query)


def test_a_national_id_sealed_under_key_1_opens_after_rotating_to_key_2():
    v1 = PiiCipher.from_settings(f"1:{KEY_1}")
    sealed = v1.encrypt(NATIONAL_ID)
    v2 = PiiCipher.from_settings(f"2:{KEY_2},1:{KEY_1}")
    assert v2.decrypt(sealed) == NATIONAL_ID
    resealed = v2.encrypt(NATIONAL_ID)
    assert resealed[0] == 2 and v2.decrypt(resealed) == NATIONAL_ID
    with pytest.raises(ValueError, match="key 02"):
        v1.decrypt(resealed)  # a server not yet given key 2 says so
    assert v2.digest(NATIONAL_ID) == v1.digest(NATIONAL_ID)


def test_what_was_sealed_before_rotation_existed_still_opens_and_matches():
    legacy = base64.b64decode(SEALED_BEFORE_ROTATION)
    for ring in (KEY_1, f"1:{KEY_1}", f"2:{KEY_2},1:{KEY_1}"):
        cipher = PiiCipher.from_settings(ring)
        assert cipher.decrypt(legacy) == NATIONAL_ID
        assert cipher.digest(NATIONAL_ID) == DIGEST_BEFORE_ROTATION


def test_the_lookup_digest_is_keyed_by_its_own_key_and_survives_retiring_key_1():
    # Pin the lookup key to what key 1 was, then retire key 1: digests do not move.
    retired = PiiCipher.from_settings(f"2:{KEY_2}", lookup_key=KEY_1)
    assert retired.digest(NATIONAL_ID) == DIGEST_BEFORE_ROTATION
    own = PiiCipher.from_settings(f"2:{KEY_2},1:{KEY_1}", lookup_key=LOOKUP)
    assert own.digest(NATIONAL_ID) == PiiCipher.from_settings(f"3:{KEY_1}", LOOKUP).digest(
        NATIONAL_ID
    )
