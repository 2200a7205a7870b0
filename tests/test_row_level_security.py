"""PostgreSQL row-level security: the database refuses other workspaces' rows whatever the statement's shape.

These statements reference a tenant table without making it an ORM entity of the query, which the ORM
guard cannot see into; production runs PostgreSQL, where the policy catches them. SQLite has no
row-level security, so these run on PostgreSQL only (CI).
"""

import datetime as dt

import pytest
from sqlalchemy import exists, func, insert, literal, select, text, update

from plixo.extensions import db
from plixo.ledger.models import Customer, Invoice
from plixo.model import Base, TenantMixin, utcnow
from plixo.tenancy import TenantScopeError, strict, tenant_scope
from tests.factories import make_customer, make_org, make_user

TODAY = dt.date(2026, 11, 18)


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature; run with TEST_DATABASE_URL")


def test_the_suite_connects_as_a_role_that_cannot_bypass_row_level_security():
    superuser, bypass = db.session.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
    assert (superuser, bypass) == (False, False)


def test_every_tenant_table_has_the_workspace_policy_forced():
    tenant_tables = {m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, TenantMixin)}
    protected = set(db.session.scalars(text(
        "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
        "WHERE c.relrowsecurity AND c.relforcerowsecurity AND p.policyname = 'workspace_isolation'")))
    assert tenant_tables - protected == set()


def test_a_count_filtered_on_a_tenant_column_sees_only_its_workspace(two_workspaces):
    _a, b = two_workspaces
    with tenant_scope(b.id):
        assert db.session.scalar(select(func.count()).where(Invoice.number == "A-1")) == 0


def test_an_exists_subquery_sees_only_its_workspace(two_workspaces):
    _a, b = two_workspaces
    with tenant_scope(b.id):
        assert db.session.scalar(select(exists().where(Invoice.number == "A-1"))) is False


def test_a_literal_select_filtered_on_a_tenant_column_sees_only_its_workspace(two_workspaces):
    _a, b = two_workspaces
    with tenant_scope(b.id):
        assert db.session.execute(select(literal(1)).where(Invoice.number == "A-1")).first() is None


def test_core_table_columns_see_only_their_workspace(two_workspaces):
    _a, b = two_workspaces
    with tenant_scope(b.id):
        assert db.session.scalars(select(Invoice.__table__.c.number)).all() == ["B-1"]


def test_raw_sql_in_a_scope_sees_only_its_workspace(two_workspaces):
    _a, b = two_workspaces
    with tenant_scope(b.id):
        assert db.session.execute(text("SELECT number FROM invoices")).scalars().all() == ["B-1"]


def test_strict_scope_sees_no_tenant_rows_even_through_raw_sql(two_workspaces):
    with strict():
        assert db.session.execute(text("SELECT count(*) FROM invoices")).scalar() == 0


def test_a_bulk_update_cannot_move_a_row_to_another_workspace(two_workspaces):
    a, b = two_workspaces
    with tenant_scope(b.id), pytest.raises(TenantScopeError):
        db.session.execute(update(Customer).values(org_id=a.id))
    db.session.rollback()


def test_the_database_refuses_a_raw_write_into_another_workspace(two_workspaces):
    from sqlalchemy.exc import ProgrammingError

    a, b = two_workspaces
    with tenant_scope(b.id), pytest.raises(ProgrammingError, match="row-level security"):
        db.session.execute(text("UPDATE customers SET org_id = :a"), {"a": a.id})
    db.session.rollback()


def test_an_empty_setting_sees_no_workspace_only_rows(two_workspaces):
    with db.engine.connect() as raw:  # a tool that never sets plixo.workspace
        assert raw.execute(text("SELECT count(*) FROM invoices")).scalar() == 0


def test_an_empty_setting_still_sees_memberships_for_sign_in(two_workspaces):
    a, b = two_workspaces
    make_user(a, "operator")
    make_user(b, "operator")
    db.session.commit()
    with db.engine.connect() as raw:
        assert raw.execute(text("SELECT count(DISTINCT org_id) FROM memberships")).scalar() == 2


def test_the_planner_estimates_a_workspace_by_its_own_share_not_twice(app):
    """The policy and the query's own workspace filter must not both count: a workspace with a tenth of the
    invoices was once estimated at a hundredth of its rows, which sent large workspaces down nested loops."""
    small, large = make_org(name="Small"), make_org(name="Large")
    for org, count in ((small, 300), (large, 2700)):
        with tenant_scope(org.id):
            customer = make_customer(org)
            db.session.execute(insert(Invoice), [
                {"org_id": org.id, "customer_id": customer.id, "number": f"N-{n}", "issue_date": TODAY,
                 "due_date": TODAY, "currency": "USD", "amount_minor": 100, "balance_minor": 100, "status": "open",
                 "source": "manual", "created_at": utcnow(), "updated_at": utcnow()} for n in range(count)])
    db.session.commit()
    with tenant_scope(small.id):
        db.session.execute(text("ANALYZE invoices"))
        plan = db.session.execute(text("EXPLAIN (FORMAT JSON) SELECT id FROM invoices WHERE org_id = :org"),
                                  {"org": small.id}).scalar()
    assert 150 <= plan[0]["Plan"]["Plan Rows"] <= 600
