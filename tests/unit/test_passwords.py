from argon2 import PasswordHasher

from api.config import Config
from api.services.identity import accounts


def test_production_hashing_uses_rfc9106_low_memory_argon2id():
    saved = accounts._hasher, accounts._DUMMY_HASH
    try:
        accounts.configure_password_hashing(Config().argon2_profile)
        stored = accounts.hash_password("s3cret-enough")
    finally:
        accounts._hasher, accounts._DUMMY_HASH = saved
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert accounts.verify_password(stored, "s3cret-enough")
    assert not accounts.verify_password(stored, "s3cret-enougH")
    assert not accounts.verify_password("not a hash", "s3cret-enough")
    assert PasswordHasher().verify(stored, "s3cret-enough")
