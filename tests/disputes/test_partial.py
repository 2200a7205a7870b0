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


def test_one_dispute_covers_several_invoices_and_releases_them_together(scoped, controller, invoice, tmp_path):
    from tests.factories import make_invoice

    second = make_invoice(scoped, invoice.customer, number="INV-2", balance_minor=50_000, amount_minor=50_000)
    third = make_invoice(scoped, invoice.customer, number="INV-3", balance_minor=40_000, amount_minor=40_000)
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path,
                                    utcnow(), also=[(second, None), (third, 10_000)])
    assert (invoice.status, second.status, third.status) == ("disputed", "disputed", "open")
    assert disputed_parts(db.session, scoped.id, [third.id]) == {third.id: 10_000}
    rows, _cursor = dispute_page(db.session, scoped.id, DisputeFilters(), utcnow())
    assert [row.balance_minor for row in rows] == [100_000 + 50_000 + 10_000]
    lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action", "All delivered", utcnow())
    assert (invoice.status, second.status) == ("open", "open") and disputed_parts(db.session, scoped.id,
                                                                                   [third.id]) == {}


def test_another_customer_s_or_currency_s_invoice_is_refused(scoped, controller, invoice, tmp_path):
    from tests.factories import make_invoice

    stranger = make_invoice(scoped, number="X-1")
    euros = make_invoice(scoped, invoice.customer, number="E-1", currency="EUR")
    for other in (stranger, euros):
        with pytest.raises(ActionError) as refused:
            disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path,
                                  utcnow(), also=[(other, None)])
        assert refused.value.field == "also"
    assert invoice.status == "open"


def test_the_queue_form_names_the_other_invoices(client, org, controller):
    from plixo.ledger.models import Invoice
    from plixo.tenancy import tenant_scope
    from tests.factories import make_contact, make_customer, make_invoice

    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer)
        first = make_invoice(org, customer, number="G-1")
        make_invoice(org, customer, number="G-2")
        db.session.commit()
        first_id = first.id
    path = f"/work/queue/{first_id}/dispute"
    unknown = client.post(path, data={"reason": "pricing", "also": "G-2, NOPE-9"}, headers={"HX-Request": "true"})
    assert unknown.status_code == 422 and "NOPE-9" in unknown.headers["HX-Trigger"]
    assert client.post(path, data={"reason": "pricing", "also": "G-2"}, headers={"HX-Request": "true"}).status_code \
        == 200
    db.session.rollback()
    with tenant_scope(org.id):
        assert sorted(db.session.scalars(select(Invoice.status))) == ["disputed", "disputed"]
