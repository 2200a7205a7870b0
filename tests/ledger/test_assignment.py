"""Invoices are assigned only to teammates who work the queue."""


import pytest

from plixo.actions import ActionError
from plixo.extensions import db
from plixo.ledger import assignment
from plixo.ledger.models import Invoice
from tests.factories import make_user


def test_assigning_to_a_non_collector_is_refused(scoped, controller, invoice):
    cfo = make_user(scoped, "cfo")
    with pytest.raises(ActionError):
        assignment.assign(db.session, scoped, invoice, controller, cfo.id, whole_customer=False)
    operator = make_user(scoped, "operator")
    assignment.assign(db.session, scoped, invoice, controller, operator.id, whole_customer=False)
    assert db.session.get(Invoice, invoice.id).assignee_id == operator.id
