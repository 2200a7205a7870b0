"""Secrets at rest: a column type that stores Fernet ciphertext, keyed outside the database."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text, TypeDecorator


def _derived_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"plixo-secrets-at-rest", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def cipher() -> MultiFernet:
    """ENCRYPTION_KEYS (comma-separated Fernet keys, newest first) or a key derived from SECRET_KEY."""
    configured = [k.strip() for k in current_app.config.get("ENCRYPTION_KEYS", "").split(",") if k.strip()]
    keys = configured or [_derived_key(current_app.config["SECRET_KEY"]).decode()]
    return MultiFernet([Fernet(k) for k in keys])


class EncryptedText(TypeDecorator):
    """Text that is encrypted before it reaches the database and decrypted on load."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return cipher().encrypt(value.encode()).decode()

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return cipher().decrypt(value.encode()).decode()
