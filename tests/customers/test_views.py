"""Customer pages over HTTP: every role reads them; notes, plans and suggestions need their permission; another
workspace's customer is not found; bad input is refused with a message and changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.extensions import db
from plixo.notes.models import Note
from plixo.outreach.models import Message
from plixo.promises.models import PaymentPlan
from plixo.security import ROLES
from plixo.tenancy import tenant_scope
from tests.factories import TODAY, across_workspaces, make_customer, make_invoice, make_org

HX = {"HX-Request": "true"}
IN_A_MONTH, IN_TWO = (TODAY + dt.timedelta(days=30)).isoformat(), (TODAY + dt.timedelta(days=60)).isoformat()


def _page(customer) -> str:
    return f"/work/customers/{customer.id}"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_role_reads_the_list_and_the_customer(client_as, globex, role):
    client = client_as(role)
    listing = client.get("/work/customers")
    assert listing.status_code == 200 and "Globex Corporation" in listing.get_data(as_text=True)
    assert 'href="/work/customers"' in listing.get_data(as_text=True)  # in the navigation
    page = client.get(_page(globex["customer"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "GLX-101" in html and "Hank Scorpio" in html and "Hard bounce" in html


def test_the_list_filters_as_a_fragment_and_explains_an_empty_result(client, globex):
    response = client.get("/work/customers?q=nothing-like-it", headers={**HX, "HX-Target": "customer-results"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and "No customers match “nothing-like-it”" in html
    assert "Globex" in client.get("/work/customers?q=GLX&sort=risk&owner=bogus&page=x").get_data(as_text=True)


def test_actions_follow_the_role(client_as, globex):
    sales = client_as("sales").get(_page(globex["customer"])).get_data(as_text=True)
    assert "Suggest a reminder" in sales and "Write a note" in sales and "Propose a payment plan" in sales
    operator = client_as("operator").get(_page(globex["customer"])).get_data(as_text=True)
    assert "Suggest a reminder" not in operator and "Write a note" in operator
    cfo = client_as("cfo").get(_page(globex["customer"])).get_data(as_text=True)
    assert "customer-actions" not in cfo and "Write a note" not in cfo


def test_another_workspaces_customer_is_not_found(client, globex):
    other = make_org(name="Other")
    stranger = make_customer(other, name="Stranger Things Inc")
    db.session.commit()
    assert client.get(_page(stranger)).status_code == 404
    assert client.post(f"{_page(stranger)}/notes", data={"body": "hi"}).status_code == 404
    assert client.get("/work/customers/999999").status_code == 404
    assert "No customers match" in client.get("/work/customers?q=Stranger").get_data(as_text=True)


@pytest.mark.parametrize("role, allowed", [("sales", True), ("csm", True), ("legal", True), ("operator", True),
                                           ("cfo", False), ("billing_admin", False)])
def test_notes_need_notes_write(client_as, globex, role, allowed):
    response = client_as(role).post(f"{_page(globex['customer'])}/notes", data={"body": "Spoke to their CFO."},
                                    headers=HX)
    assert response.status_code == (200 if allowed else 403)
    bodies = [n.body for n in across_workspaces(select(Note))]
    assert ("Spoke to their CFO." in bodies) == allowed


def test_an_empty_note_is_refused_and_nothing_is_saved(client_as, globex):
    response = client_as("legal").post(f"{_page(globex['customer'])}/notes", data={"body": "  "}, headers=HX)
    assert response.status_code == 422 and "Write the note." in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#note-message"
    assert len(across_workspaces(select(Note))) == 1  # the fixture's own


def _plan(client, customer, invoices, dates=(IN_A_MONTH, IN_TWO), amounts=("1250.00", "1250.00")):
    return client.post(f"{_page(customer)}/plans", headers=HX, data={
        "invoice_id": [str(i.id) for i in invoices], "installment_date": list(dates),
        "installment_amount": list(amounts)})


@pytest.mark.parametrize("role, status", [("sales", 200), ("csm", 200), ("operator", 200), ("legal", 403),
                                          ("cfo", 403)])
def test_plans_need_plans_propose(client_as, globex, role, status):
    assert _plan(client_as(role), globex["customer"], [globex["overdue"]]).status_code == status
    assert len(across_workspaces(select(PaymentPlan))) == (1 if status == 200 else 0)


def test_a_plan_may_cover_several_invoices(client_as, globex):
    response = _plan(client_as("csm"), globex["customer"], [globex["overdue"], globex["current"]],
                     amounts=("2000.00", "1500.00"))
    assert response.status_code == 200 and "Payment plan recorded." in response.headers["HX-Trigger"]
    with tenant_scope(globex["customer"].org_id):
        [plan] = db.session.scalars(select(PaymentPlan)).all()
        assert plan.total_minor == 350_000 and len(plan.invoices) == 2 and plan.status == "accepted"


@pytest.mark.parametrize("invoices, amounts, message", [
    (("overdue",), ("1000.00", "1000.00"), "add up to $2,000.00, but the balance is $2,500.00"),
    (("overdue", "euro"), ("1000.00", "1000.00"), "one currency"),
    ((), ("1250.00", "1250.00"), "Choose the invoices"),
    (("overdue",), ("abc", "1250.00"), "Installment 1 needs a date and an amount"),
])
def test_a_bad_plan_is_refused_with_its_reason(client_as, globex, invoices, amounts, message):
    response = _plan(client_as("sales"), globex["customer"], [globex[k] for k in invoices], amounts=amounts)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#plan-message"
    assert across_workspaces(select(PaymentPlan)) == []


def test_a_plan_on_another_customers_invoice_is_refused(client_as, org, globex):
    elsewhere = make_invoice(org, make_customer(org, name="Elsewhere"), number="ELS-1")
    db.session.commit()
    response = _plan(client_as("sales"), globex["customer"], [elsewhere])
    assert response.status_code == 422 and "open invoices" in response.get_data(as_text=True)
    assert across_workspaces(select(PaymentPlan)) == []


def _nudge(client, customer, invoice, subject="Invoice {invoice_number}", body="Hello,\n{amount_due} is due."):
    return client.post(f"{_page(customer)}/nudge", headers=HX,
                       data={"invoice_id": str(invoice.id), "subject": subject, "body": body})


@pytest.mark.parametrize("role, status", [("sales", 200), ("csm", 200), ("operator", 403), ("controller", 403),
                                          ("ar_manager", 403), ("legal", 403)])
def test_only_sales_and_csm_suggest_reminders(client_as, globex, role, status):
    response = _nudge(client_as(role), globex["customer"], globex["overdue"])
    assert response.status_code == status
    drafts = across_workspaces(select(Message))
    assert len(drafts) == (1 if status == 200 else 0)
    if drafts:
        assert drafts[0].status == "draft" and "Priya Raman to review; nothing was sent" in response.headers[
            "HX-Trigger"]


def test_a_suggestion_on_a_disputed_invoice_is_refused_with_the_reason(client_as, globex):
    response = _nudge(client_as("sales"), globex["customer"], globex["euro"])
    assert response.status_code == 422 and "No outreach on this invoice: Not open" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#nudge-message" and across_workspaces(select(Message)) == []


def test_a_suggestion_with_an_unknown_field_is_refused(client_as, globex):
    response = _nudge(client_as("csm"), globex["customer"], globex["overdue"], body="Dear {customer}")
    assert response.status_code == 422 and "Unknown merge field {customer}" in response.get_data(as_text=True)


def test_the_suggestion_form_and_preview_follow_the_chosen_invoice(client_as, globex):
    sales = client_as("sales")
    page = sales.get(_page(globex["customer"])).get_data(as_text=True)
    assert 'id="nudge-form"' in page and "{invoice_number}" in page
    assert f'<option value="{globex["euro"].id}"' not in page  # disputed: no reminder
    form = sales.get(f"{_page(globex['customer'])}/nudge?invoice_id={globex['current'].id}", headers=HX)
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    preview = sales.post(f"{_page(globex['customer'])}/nudge/preview", headers=HX, data={
        "invoice_id": str(globex["current"].id), "subject": "About {invoice_number}", "body": "{amount_due} soon"})
    assert "About GLX-100" in preview.get_data(as_text=True) and "$1,000.00 soon" in preview.get_data(as_text=True)
    assert client_as("operator").get(f"{_page(globex['customer'])}/nudge?invoice_id=1").status_code == 403


def test_the_send_still_needs_a_collector(client_as, globex):
    sales = client_as("sales")
    assert _nudge(sales, globex["customer"], globex["overdue"]).status_code == 200
    assert sales.post(f"/work/queue/{globex['overdue'].id}/send", data={}).status_code == 403
    assert [m.status for m in across_workspaces(select(Message))] == ["draft"]


def test_show_more_pages_the_timeline(client, org, globex):
    with tenant_scope(org.id):
        db.session.add_all(Note(org_id=org.id, customer_id=globex["customer"].id, body=f"Note {n}") for n in range(45))
        db.session.commit()
    page = client.get(_page(globex["customer"])).get_data(as_text=True)
    assert 'id="timeline-more"' in page
    more = client.get(f"{_page(globex['customer'])}?offset=40", headers={**HX, "HX-Target": "timeline-more"})
    assert more.status_code == 200 and "<html" not in more.get_data(as_text=True) and "Called AP." in more.get_data(
        as_text=True)


@pytest.mark.parametrize("owner", ["²", "99999999999999999999999999", "-1", "x"])
def test_an_odd_owner_filter_lists_everyone(client, owner):
    assert client.get("/work/customers", query_string={"owner": owner}).status_code == 200
