"""Admin → Dispute reasons: the defaults until edited; saving writes the whole list; every bad row is named."""

from sqlalchemy import select

from plixo.disputes.models import DisputeReason
from plixo.disputes.reasons import DEFAULT_REASONS, reason_rule, reasons_of
from plixo.extensions import db
from plixo.tenancy import tenant_scope
from tests.factories import make_user

PAGE = "/admin/dispute-reasons"


def form_of(rows):
    data = {"key": [], "label": [], "sla_days": [], "owner_role": [], "owner_id": [], "archived": []}
    for row in rows:
        key, label, sla, role, owner, archived = [*row, False][:6]
        for name, value in (("key", key), ("label", label), ("sla_days", sla), ("owner_role", role),
                            ("owner_id", owner)):
            data[name].append(value)
        if archived:
            data["archived"].append(key)
    return data


def defaults_with(*extra):
    rows = [(r.key, r.label, str(r.sla_days), r.owner_role or "", "") for r in DEFAULT_REASONS]
    return form_of(rows + list(extra))


def test_the_page_lists_the_defaults_until_edited(client):
    page = client.get(PAGE).get_data(as_text=True)
    assert all(rule.label in page for rule in DEFAULT_REASONS) and "Add a reason" in page


def test_saving_adds_a_reason_with_its_own_sla_and_owner(client, org):
    person = make_user(org, "operator", name="Fran Freight")
    db.session.commit()
    response = client.post(PAGE, data=defaults_with(("", "Freight charges", "2", "", str(person.id))))
    assert response.status_code == 303
    with tenant_scope(org.id):
        rule = reason_rule(db.session, org.id, "freight_charges")
        assert (rule.label, rule.sla_days, rule.owner_id) == ("Freight charges", 2, person.id)
        assert len(reasons_of(db.session, org.id)) == len(DEFAULT_REASONS) + 1


def test_archiving_hides_a_reason_but_keeps_its_row(client, org):
    rows = [(r.key, r.label, str(r.sla_days), r.owner_role or "", "", r.key == "duplicate") for r in DEFAULT_REASONS]
    assert client.post(PAGE, data=form_of(rows)).status_code == 303
    with tenant_scope(org.id):
        assert reason_rule(db.session, org.id, "duplicate") is None
        assert db.session.scalar(select(DisputeReason.archived).where(DisputeReason.key == "duplicate"))


def test_every_bad_row_is_named_and_nothing_is_saved(client, org):
    bad = defaults_with(("", "Pricing or rate", "3", "", ""), ("", "Freight", "sNaN", "", ""),
                        ("", "Tax", "99", "", ""), ("", "Fees", "2", "superuser", ""),
                        ("", "Other fees", "2", "", "12abc"))
    response = client.post(PAGE, data=bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "listed twice" in page and "1 to 60" in page
    assert "Choose one of the listed roles" in page and "active member" in page
    with tenant_scope(org.id):
        assert db.session.scalars(select(DisputeReason)).all() == []


def test_archiving_every_reason_is_refused(client, org):
    rows = [(r.key, r.label, str(r.sla_days), r.owner_role or "", "", True) for r in DEFAULT_REASONS]
    response = client.post(PAGE, data=form_of(rows))
    assert response.status_code == 422 and "at least one reason" in response.get_data(as_text=True)


def test_only_controllers_edit_reasons(client_as):
    assert client_as("ar_manager").get(PAGE).status_code == 403


def test_the_queue_offers_the_workspace_s_own_reasons(client, org):
    from plixo.ledger.models import Invoice
    from tests.factories import make_contact, make_customer, make_invoice

    assert client.post(PAGE, data=defaults_with(("", "Freight charges", "2", "", ""))).status_code == 303
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer)
        invoice_id = make_invoice(org, customer).id
        db.session.commit()
    panel = client.get(f"/work/queue/{invoice_id}", headers={"HX-Request": "true", "HX-Target": "inspector"})
    assert "Freight charges" in panel.get_data(as_text=True)
    opened = client.post(f"/work/queue/{invoice_id}/dispute", data={"reason": "freight_charges"},
                         headers={"HX-Request": "true"})
    assert opened.status_code == 200
    db.session.rollback()
    with tenant_scope(org.id):
        assert db.session.get(Invoice, invoice_id).status == "disputed"
