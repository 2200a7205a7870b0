"""Connector secrets are encrypted at rest and readable only with the app's keys."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.tenancy import tenant_scope
from tests.factories import make_org

SECRET = '{"api_key": "rk_live_very_secret"}'


@pytest.fixture(autouse=True)
def org():
    org = make_org()
    with tenant_scope(org.id):
        yield org


def _store(org) -> int:
    connection = Connection(org_id=org.id, kind="stripe", provider="stripe", secrets=SECRET)
    db.session.add(connection)
    db.session.commit()
    return connection.id


def test_the_database_holds_ciphertext_only(app, org):
    connection_id = _store(org)
    raw = db.session.execute(text("SELECT secrets FROM connections WHERE id = :id"), {"id": connection_id}).scalar()
    assert "rk_live" not in raw and raw.startswith("gAAAA")


def test_the_app_reads_the_secret_back(app, org):
    connection_id = _store(org)
    db.session.expire_all()
    assert db.session.get(Connection, connection_id).secrets == SECRET


def test_rotated_keys_still_read_old_secrets(app, org):
    connection_id = _store(org)  # written with the key derived from SECRET_KEY
    from plixo.crypto import _derived_key

    old_key = _derived_key(app.config["SECRET_KEY"]).decode()
    app.config["ENCRYPTION_KEYS"] = f"{Fernet.generate_key().decode()},{old_key}"
    try:
        db.session.expire_all()
        assert db.session.get(Connection, connection_id).secrets == SECRET
    finally:
        app.config["ENCRYPTION_KEYS"] = ""


def test_another_key_cannot_read_it(app, org):
    connection_id = _store(org)
    app.config["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    try:
        db.session.expire_all()
        with pytest.raises(InvalidToken):
            db.session.get(Connection, connection_id).secrets  # noqa: B018 - the load is the assertion
    finally:
        app.config["ENCRYPTION_KEYS"] = ""
        db.session.rollback()
