"""Queue scope follows the permission table: an operator acts on their own and unassigned invoices and reads the
rest; A/R managers and controllers act anywhere."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

HX = {"HX-Request": "true"}


@pytest.fixture
def team(org):
    olive = make_user(org, "operator", name="Olive Operator")
    priya = make_user(org, "operator", name="Priya Raman")
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example")
        due = workspace_today() - dt.timedelta(days=20)
        invoices = {
            "mine": make_invoice(org, customer, number="INV-MINE", assignee_id=olive.id, due_date=due),
            "hers": make_invoice(org, customer, number="INV-HERS", assignee_id=priya.id, due_date=due),
            "free": make_invoice(org, customer, number="INV-FREE", due_date=due),
        }
    db.session.commit()
    return olive, invoices


def hold(client, invoice):
    return client.post(f"/work/queue/{invoice.id}/hold", headers=HX, data={"reason": "Checking the contract"})


def holds(org) -> list[int]:
    with tenant_scope(org.id):
        return [h.invoice_id for h in db.session.scalars(select(Hold))]


def test_an_operator_reads_a_colleagues_invoice_but_cannot_act_on_it(app, org, team):
    olive, invoices = team
    client = sign_in(app.test_client(), olive)
    page = client.get(f"/work/queue/{invoices['hers'].id}").get_data(as_text=True)
    assert "INV-HERS is Priya Raman&#39;s to work: you can read it, not act on it." in page
    refused = hold(client, invoices["hers"])
    toast = json.loads(refused.headers["HX-Trigger"])["shell:toast"]["message"]
    assert refused.status_code == 422 and "Ask an A/R manager to assign it to you" in toast
    assert holds(org) == []


def test_an_operator_acts_on_their_own_and_unassigned_invoices(app, org, team):
    olive, invoices = team
    client = sign_in(app.test_client(), olive)
    assert hold(client, invoices["mine"]).status_code == 200
    assert hold(client, invoices["free"]).status_code == 200
    assert sorted(holds(org)) == sorted([invoices["mine"].id, invoices["free"].id])


def test_a_manager_acts_anywhere(client_as, org, team):
    _olive, invoices = team
    assert hold(client_as("ar_manager"), invoices["hers"]).status_code == 200
    assert holds(org) == [invoices["hers"].id]
