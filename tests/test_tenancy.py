"""The central workspace guard: scoped queries, refused cross-workspace writes, loud failure without a scope."""

import pytest
from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from plixo.accounts.models import Membership
from plixo.extensions import db
from plixo.ledger.models import Customer, Invoice
from plixo.tenancy import TenantScopeError, get_or_404, strict, tenant_scope, unscoped
from tests.factories import make_customer, make_user


def test_queries_in_a_scope_see_only_that_workspace(two_workspaces):
    a, _b = two_workspaces
    with tenant_scope(a.id):
        assert db.session.scalars(select(Invoice.number)).all() == ["A-1"]


def test_joins_are_scoped_on_every_tenant_table(two_workspaces):
    a, _b = two_workspaces
    with tenant_scope(a.id):
        rows = db.session.execute(select(Invoice.number, Customer.org_id).join(Customer)).all()
    assert {org_id for _n, org_id in rows} == {a.id}


def test_bulk_update_in_a_scope_leaves_other_workspaces_alone(two_workspaces):
    a, b = two_workspaces
    with tenant_scope(a.id):
        db.session.execute(update(Invoice).values(status="closed"))
        db.session.commit()
    with tenant_scope(b.id):
        assert db.session.scalar(select(Invoice.status)) == "open"


def test_querying_a_tenant_table_without_a_scope_raises(two_workspaces):
    with strict(), pytest.raises(TenantScopeError):
        db.session.scalars(select(Invoice)).all()


def test_writing_another_workspaces_row_is_refused(two_workspaces):
    a, b = two_workspaces
    with tenant_scope(a.id):
        intruder = Customer(org_id=b.id, external_id="X", name="Planted")
        db.session.add(intruder)
        with pytest.raises(TenantScopeError):
            db.session.flush()
    db.session.rollback()


def test_new_rows_take_the_scope_workspace(two_workspaces):
    a, _b = two_workspaces
    with tenant_scope(a.id):
        customer = Customer(external_id="NEW", name="New Co")
        db.session.add(customer)
        db.session.flush()
    assert customer.org_id == a.id


def test_get_or_404_refuses_another_workspaces_id_even_when_cached(two_workspaces):
    a, b = two_workspaces
    other = make_customer(b)  # in this session's identity map
    with tenant_scope(a.id), pytest.raises(NotFound):
        get_or_404(db.session, Customer, other.id)


def test_a_joined_tenant_table_is_scoped_even_when_not_selected(two_workspaces):
    a, _b = two_workspaces
    with tenant_scope(a.id):
        numbers = db.session.scalars(select(Customer.external_id).join(Invoice, Invoice.customer_id == Customer.id)
                                     .where(Invoice.number.is_not(None))).all()
        own = db.session.scalars(select(Customer.external_id)).all()
    assert numbers == own


def test_joining_a_tenant_table_without_a_scope_raises(two_workspaces):
    from plixo.accounts.models import Membership, User

    with strict(), pytest.raises(TenantScopeError):
        db.session.execute(select(User.id).join(Membership, Membership.user_id == User.id)).all()


def test_a_bulk_update_that_moves_rows_between_workspaces_is_refused(two_workspaces):
    a, b = two_workspaces
    with tenant_scope(b.id), pytest.raises(TenantScopeError, match="workspace cannot be changed"):
        db.session.execute(update(Customer).values(org_id=a.id))
    db.session.rollback()


def test_system_code_cannot_read_a_workspace_only_table(two_workspaces):
    with unscoped(), pytest.raises(TenantScopeError, match="invoices"):
        db.session.scalars(select(Invoice)).all()


def test_system_code_cannot_write_a_workspace_only_table(two_workspaces):
    a, _b = two_workspaces
    with unscoped(), pytest.raises(TenantScopeError, match="inside its workspace"):
        db.session.add(Customer(org_id=a.id, name="Written by system code"))
        db.session.flush()
    db.session.rollback()


def test_system_code_reads_memberships_across_workspaces(two_workspaces):
    a, b = two_workspaces
    make_user(a, "operator")
    make_user(b, "operator")
    with unscoped():
        assert {m.org_id for m in db.session.scalars(select(Membership))} == {a.id, b.id}


def test_a_row_loaded_in_its_workspace_refreshes_later_outside_any_scope(two_workspaces):
    a, _b = two_workspaces
    with tenant_scope(a.id):
        invoice = db.session.scalars(select(Invoice)).one()
    db.session.commit()  # expires it
    with unscoped():
        assert invoice.number == "A-1"
