"""A dispute of part of an invoice: the invoice stays in the queue for the undisputed rest, e-mails ask for that rest
and say so, the engine's e-mails too, and the disputes page counts the contested part."""

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.disputes import lifecycle
from plixo.disputes import service as disputes
from plixo.disputes.desk import DisputeFilters, dispute_page
from plixo.extensions import db
from plixo.ledger.disputed import disputed_parts
from plixo.model import utcnow
from plixo.outreach.merge_fields import merge_values
from plixo.queue.inspector import inspect


def test_a_partial_dispute_leaves_the_invoice_open_for_the_rest(scoped, controller, invoice, tmp_path):
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "Freight line", None,
                                    tmp_path, utcnow(), amount_minor=20_000)
    assert invoice.status == "open" and dispute.disputed_minor == 20_000
    assert disputed_parts(db.session, scoped.id, [invoice.id]) == {invoice.id: 20_000}
    values = merge_values(invoice, utcnow().date(), "Cora")
    assert (values["amount_due"], values["disputed_amount"]) == ("$800.00", "$200.00")


def test_the_whole_balance_is_an_ordinary_dispute(scoped, controller, invoice, tmp_path):
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", None, tmp_path, utcnow(),
                                    amount_minor=invoice.balance_minor)
    assert invoice.status == "disputed" and dispute.disputed_minor is None


@pytest.mark.parametrize("amount", [0, -5, 100_001])
def test_an_impossible_part_is_refused(scoped, controller, invoice, tmp_path, amount):
    with pytest.raises(ActionError) as refused:
        disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", None, tmp_path, utcnow(),
                              amount_minor=amount)
    assert refused.value.field == "amount" and invoice.status == "open"


def test_the_draft_asks_for_the_undisputed_rest_and_says_so(scoped, controller, invoice, tmp_path):
    disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path, utcnow(),
                          amount_minor=30_000)
    seen = inspect(db.session, scoped, invoice, controller, utcnow())
    assert "{disputed_amount}" in seen.body and seen.merge_values["amount_due"] == "$700.00"
    assert "undisputed $700.00" in seen.preview.body


def test_once_resolved_the_whole_balance_is_chased_again(scoped, controller, invoice, tmp_path):
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path,
                                    utcnow(), amount_minor=30_000)
    lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action", "All delivered", utcnow())
    assert merge_values(invoice, utcnow().date(), "Cora")["amount_due"] == "$1,000.00"


def test_the_disputes_page_counts_the_contested_part(scoped, controller, invoice, tmp_path):
    disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path, utcnow(),
                          amount_minor=30_000)
    rows, _cursor = dispute_page(db.session, scoped.id, DisputeFilters(), utcnow())
    assert [row.balance_minor for row in rows] == [30_000]


def test_the_queue_form_takes_a_part_and_refuses_garbage(client, org, controller):
    from plixo.ledger.models import Invoice
    from plixo.tenancy import tenant_scope
    from tests.factories import make_contact, make_customer, make_invoice

    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer)
        invoice = make_invoice(org, customer, balance_minor=500_000, amount_minor=500_000)
        db.session.commit()
        invoice_id = invoice.id
    path = f"/work/queue/{invoice_id}/dispute"
    bad = client.post(path, data={"reason": "pricing", "amount": "sNaN"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422
    ok = client.post(path, data={"reason": "pricing", "amount": "1,200.00"}, headers={"HX-Request": "true"})
    assert ok.status_code == 200 and "undisputed rest stays in the queue" in ok.headers["HX-Trigger"]
    db.session.rollback()
    with tenant_scope(org.id):
        assert db.session.scalar(select(Invoice.status).where(Invoice.id == invoice_id)) == "open"
