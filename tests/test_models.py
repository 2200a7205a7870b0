"""Schema rules every table must keep."""

from plixo.model import Base, TenantMixin
from plixo.models import WebhookEvent


def _tenant_tables():
    return [m.class_.__table__ for m in Base.registry.mappers if issubclass(m.class_, TenantMixin)]


def test_every_tenant_table_has_a_required_org_id():
    assert all(not t.c.org_id.nullable for t in _tenant_tables())


# Deliberate cross-workspace lookups, each with its reason.
CROSS_WORKSPACE_INDEXES = {
    "memberships.ix_memberships_user_id": "sign-in finds the workspaces of one user",
}


def test_every_index_on_a_tenant_table_starts_with_org_id():
    offenders = [
        f"{t.name}.{ix.name}" for t in _tenant_tables() for ix in t.indexes
        if ix.columns.keys()[0] != "org_id" and f"{t.name}.{ix.name}" not in CROSS_WORKSPACE_INDEXES
    ]
    assert offenders == []


def test_every_unique_constraint_on_a_tenant_table_starts_with_org_id():
    from sqlalchemy import UniqueConstraint

    offenders = [
        f"{t.name}.{c.name}" for t in _tenant_tables() for c in t.constraints
        if isinstance(c, UniqueConstraint) and c.columns.keys()[0] != "org_id" and t.name != "invites"
    ]
    assert offenders == []  # invites.token_hash is globally unique on purpose: a token finds its workspace


def test_webhook_events_are_indexed_by_workspace_for_their_admin_pages():
    assert all(ix.columns.keys()[0] == "org_id" for ix in WebhookEvent.__table__.indexes)


def test_money_columns_are_integers():
    from sqlalchemy import BigInteger, Float, Numeric

    money = [c for t in Base.metadata.tables.values() for c in t.columns if c.name.endswith("_minor")]
    assert money and all(isinstance(c.type, BigInteger) or c.type.python_type is int for c in money)
    assert not [c for t in Base.metadata.tables.values() for c in t.columns if isinstance(c.type, (Float, Numeric))]
