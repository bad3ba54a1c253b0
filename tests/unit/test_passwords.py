from argon2 import PasswordHasher

from api.config import Config
from api.services.identity import passwords


def test_production_hashing_uses_rfc9106_low_memory_argon2id():
    saved = passwords._hasher, passwords._DUMMY_HASH
    try:
        passwords.configure_password_hashing(Config().argon2_profile)
        stored = passwords.hash_password("s3cret-enough")
    finally:
        passwords._hasher, passwords._DUMMY_HASH = saved
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(stored, "s3cret-enough")
    assert not passwords.verify_password(stored, "s3cret-enougH")
    assert not passwords.verify_password("not a hash", "s3cret-enough")
    assert PasswordHasher().verify(stored, "s3cret-enough")
