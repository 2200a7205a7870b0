"""Admin → Cadences: the list with its 30-day cash impact, the Create cadence wizard, roles and status changes."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.ledger.models import Payment, PaymentApplication
from plixo.model import utcnow
from plixo.outreach.cadences import StepInput, create_cadence
from plixo.outreach.models import Cadence, CadenceStep, Message, MessageInvoice, Segment
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_org, workspace_today

TODAY = workspace_today()
HX = {"HX-Request": "true", "HX-Target": "cadence-wizard"}
REMINDER = ("3", "due_date", "Invoice {invoice_number} is overdue", "Hello {customer_name}, {amount_due} is due.", "")
FOLLOW_UP = ("7", "previous_touch", "Following up on {invoice_number}", "Hello again {customer_name}.", "firm")


@pytest.fixture
def segment_id(org) -> int:
    with tenant_scope(org.id):
        found = Segment(org_id=org.id, name="All overdue", rules={})
        db.session.add(found)
        db.session.commit()
        return found.id


@pytest.fixture
def overdue(org):
    """One reachable invoice, 20 days overdue: what the segment selects and the preview is filled with."""
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer)
        found = make_invoice(org, customer, number="INV-LIVE-7", due_date=TODAY - dt.timedelta(days=20),
                             balance_minor=250_000, amount_minor=250_000)
        db.session.commit()
        return found


def wizard(segment_id, action="launch", name="Gentle reminders", steps=(REMINDER, FOLLOW_UP), launch="shadow"):
    """The whole wizard form, as every step posts it."""
    columns = ("step_offset", "step_anchor", "step_subject", "step_body", "step_tone")
    return {"name": name, "segment_id": str(segment_id), "launch": launch, "action": action,
            **{column: [step[n] for step in steps] for n, column in enumerate(columns)}}


def cadence_count(org) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(func.count()).select_from(Cadence))


def launched(org, controller, segment_id, name="Gentle", status="shadow", started_days_ago=1) -> Cadence:
    with tenant_scope(org.id):
        started = utcnow() - dt.timedelta(days=started_days_ago)
        cadence = create_cadence(db.session, org, controller, name, segment_id,
                                 [StepInput(3, "due_date", "Invoice {invoice_number}", "Hello {customer_name}.")],
                                 status, started)
        db.session.commit()
        return cadence


# --- The list -----------------------------------------------------------------------------------------

def test_the_list_shows_each_cadence_with_its_segment_status_and_steps(client, org, controller, segment_id):
    launched(org, controller, segment_id, name="Gentle")
    html = client.get("/admin/cadences").get_data(as_text=True)
    row = html[html.index('id="cadence-'):]
    assert "Gentle" in row and "All overdue" in row and ">Shadow<" in row and '<td class="num">1</td>' in row


def add_history(org, cadence, invoice):
    """A sent, replied message of the cadence on `invoice`, a payment after it and a promise after it."""
    with tenant_scope(org.id):
        step = db.session.scalar(select(CadenceStep).where(CadenceStep.cadence_id == cadence.id))
        sent_at = utcnow() - dt.timedelta(days=5)
        message = Message(org_id=org.id, idempotency_key="m1", customer_id=invoice.customer_id, invoice_id=invoice.id,
                          cadence_step_id=step.id, status="sent", sent_at=sent_at,
                          replied_at=sent_at + dt.timedelta(hours=2))
        db.session.add(message)
        db.session.flush()
        db.session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id,
                                      cadence_step_id=step.id))
        payment = Payment(org_id=org.id, customer_id=invoice.customer_id, currency="USD", amount_minor=40_000,
                          received_at=utcnow() - dt.timedelta(days=1))
        db.session.add(payment)
        db.session.flush()
        db.session.add(PaymentApplication(org_id=org.id, payment_id=payment.id, invoice_id=invoice.id,
                                          amount_minor=40_000))
        db.session.add(Promise(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, currency="USD",
                               amount_minor=210_000, promised_date=TODAY + dt.timedelta(days=3),
                               created_at=utcnow() - dt.timedelta(days=2)))
        db.session.commit()


def test_the_list_shows_the_30_day_cash_impact(client, org, controller, segment_id, overdue):
    add_history(org, launched(org, controller, segment_id), overdue)
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert "$400.00" in html  # collected on the touched invoice
    assert "$2,500.00" in html  # open exposure of the segment
    assert "100.0%" in html and "1 of 1" in html  # one sent, one replied; one touched, one promise


def test_rates_show_a_dash_with_a_tooltip_when_nothing_was_sent(client, org, controller, segment_id):
    launched(org, controller, segment_id)
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert 'title="Nothing sent in the last 30 days">—' in html


def test_archived_cadences_are_not_listed(client, org, controller, segment_id):
    launched(org, controller, segment_id, name="Old one")
    client.post(f"/admin/cadences/{_id(org, 'Old one')}/status", data={"status": "archived"})
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert "“Old one” archived." in html and 'id="cadence-' not in html


def test_empty_list_offers_to_create_a_cadence(client, segment_id):
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert "No cadences yet" in html and 'href="/admin/cadences/new"' in html


def test_empty_list_without_segments_says_to_create_one_first(client):
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert "create a segment first" in html and 'href="/admin/segments/new"' in html
    assert 'href="/admin/cadences/new"' not in html


def test_cadences_is_in_the_admin_navigation_for_managers_only(client, client_as):
    assert ">Cadences</a>" in client.get("/admin/cadences").get_data(as_text=True)
    assert ">Cadences</a>" in client_as("ar_manager").get("/admin/cadences").get_data(as_text=True)
    assert ">Cadences</a>" not in client_as("operator").get("/").get_data(as_text=True)


def test_operators_cannot_open_cadences(client_as):
    operator = client_as("operator")
    assert (operator.get("/admin/cadences").status_code, operator.get("/admin/cadences/new").status_code) == (403, 403)


# --- The wizard ---------------------------------------------------------------------------------------

def test_the_wizard_opens_on_name_and_segment_listing_segments_with_their_mode(client, segment_id):
    html = client.get("/admin/cadences/new").get_data(as_text=True)
    assert 'aria-current="step"><span class="wizard-number">1</span> Name &amp; segment' in html
    assert f'<option value="{segment_id}" >All overdue · Shadow Mode</option>' in html


def test_the_wizard_says_to_create_a_segment_when_there_is_none(client):
    assert "Create a segment first" in client.get("/admin/cadences/new").get_data(as_text=True)


def test_htmx_swaps_only_the_wizard_body(client, segment_id):
    response = client.post("/admin/cadences/new", headers=HX, data=wizard(segment_id, action="goto:2"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<form id="cadence-wizard"')
    assert "Following up on {invoice_number}" in html and "<html" not in html


def test_step_two_lists_the_merge_fields(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="goto:2")).get_data(as_text=True)
    assert "<code>{invoice_number}</code>" in html and "<code>{pay_link}</code>" in html


def test_adding_a_step_prefills_it_from_the_drafting_templates(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="add")).get_data(as_text=True)
    assert 'id="step-3-subject"' in html
    assert 'value="Final notice: invoice {invoice_number}"' in html  # the third step is the firm escalation


def test_moving_a_step_up_reorders_the_sequence(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="up:2")).get_data(as_text=True)
    assert html.index("Following up on {invoice_number}") < html.index("Invoice {invoice_number} is overdue")


def test_removing_a_step_drops_it(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="remove:1")).get_data(as_text=True)
    assert "Invoice {invoice_number} is overdue" not in html and 'id="step-2-subject"' not in html


def test_the_preview_fills_a_step_with_a_real_invoice_of_the_segment(client, segment_id, overdue):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="preview:1")).get_data(as_text=True)
    assert "Filled with <strong>INV-LIVE-7</strong>" in html
    assert "Invoice INV-LIVE-7 is overdue" in html and "Hello Globex, $2,500.00 is due." in html


def test_the_preview_says_so_when_the_segment_selects_no_invoice(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="preview:1")).get_data(as_text=True)
    assert "selects no eligible invoice right now" in html


def test_the_preview_shows_merge_field_problems(client, segment_id, overdue):
    steps = [("3", "due_date", "Pay {invoice_number}", "Pay here: {pay_link} {payer}", "")]
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="preview:1", steps=steps)
                       ).get_data(as_text=True)
    assert "Unknown merge field {payer}" in html and "{pay_link} has no value for this invoice yet." in html


def test_the_review_describes_the_schedule_in_words(client, segment_id):
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="goto:3")).get_data(as_text=True)
    assert "3 days after the due date" in html and "7 days after the previous touch" in html
    assert 'value="active"' in html  # a controller may launch as Active


def test_the_whole_wizard_launches_a_shadow_cadence(client, org, segment_id, overdue):
    form = wizard(segment_id, action="goto:2", steps=())
    html = client.post("/admin/cadences/new", data=form).get_data(as_text=True)
    assert 'aria-current="step"><span class="wizard-number">2</span>' in html
    html = client.post("/admin/cadences/new", data={**form, "action": "add"}).get_data(as_text=True)
    assert 'id="step-1-subject"' in html and "INV-LIVE-7" in html
    form = wizard(segment_id, action="goto:3")
    assert "Review &amp; launch" in client.post("/admin/cadences/new", data=form).get_data(as_text=True)
    response = client.post("/admin/cadences/new", headers=HX, data={**form, "action": "launch"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/admin/cadences"
    with tenant_scope(org.id):
        cadence = db.session.scalar(select(Cadence))
        assert (cadence.name, cadence.status, cadence.segment_id) == ("Gentle reminders", "shadow", segment_id)
        assert [(s.offset_days, s.anchor, s.tone_override) for s in cadence.steps] == [
            (3, "due_date", None), (7, "previous_touch", "firm")]
    listed = client.get("/admin/cadences").get_data(as_text=True)
    assert "Gentle reminders" in listed and "launched in Shadow" in listed


def test_a_plain_form_launch_redirects_to_the_list(client, org, segment_id):
    response = client.post("/admin/cadences/new", data=wizard(segment_id))
    assert response.status_code == 303 and response.headers["Location"] == "/admin/cadences"


def test_line_breaks_are_stored_as_newlines(client, org, segment_id):
    steps = [("3", "due_date", "Invoice {invoice_number}", "Hello,\r\n\r\nPlease pay.", "")]
    client.post("/admin/cadences/new", data=wizard(segment_id, steps=steps))
    with tenant_scope(org.id):
        assert db.session.scalar(select(CadenceStep.body)) == "Hello,\n\nPlease pay."


@pytest.mark.parametrize(("changes", "message", "kept"), [
    ({"name": "  "}, "Name the cadence", 'value="Invoice {invoice_number} is overdue"'),
    ({"segment_id": ""}, "Choose the segment it runs on.", 'value="Gentle reminders"'),
    ({"steps": ()}, "Add at least one e-mail step.", 'value="Gentle reminders"'),
    ({"steps": [("3", "due_date", "Hi {customer}", "Pay {amount_due}", "")]}, "unknown merge field {customer}",
     'value="Hi {customer}"'),
    ({"steps": [REMINDER, ("2", "due_date", "Second", "Pay {amount_due}", "")]}, "offsets from the due date must",
     'value="Second"'),
    ({"steps": [FOLLOW_UP]}, "Step 1 has no previous touch", 'value="Following up on {invoice_number}"'),
    ({"steps": [("three", "due_date", "Hi", "Pay {amount_due}", "")]}, "must be a whole number", 'value="three"'),
    ({"steps": [("99999999999", "due_date", "Hi", "Pay", "")]}, "within 365 days", 'value="99999999999"'),
], ids=["empty-name", "no-segment", "no-steps", "unknown-field", "out-of-order", "previous-touch-first",
        "not-an-integer", "huge-offset"])
def test_bad_input_is_explained_at_its_field_keeping_what_was_typed(client, org, segment_id, changes, message, kept):
    response = client.post("/admin/cadences/new", data=wizard(**{"segment_id": segment_id, **changes}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and kept in html
    assert 'class="field-error" role="alert"' in html and cadence_count(org) == 0


def test_a_duplicate_name_is_refused_on_step_one(client, org, controller, segment_id):
    launched(org, controller, segment_id, name="Gentle reminders")
    response = client.post("/admin/cadences/new", data=wizard(segment_id))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "already exists" in html and 'id="cadence-name"' in html
    assert cadence_count(org) == 1


def test_moving_on_checks_the_step_being_left(client, segment_id):
    response = client.post("/admin/cadences/new", headers=HX, data=wizard(segment_id, action="goto:2", name=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Name the cadence" in html and 'id="cadence-name"' in html


def test_a_sequence_error_marks_the_step_it_is_about(client, segment_id):
    steps = [REMINDER, ("x", "due_date", "Second", "Body", "")]
    html = client.post("/admin/cadences/new", data=wizard(segment_id, action="goto:3", steps=steps)
                       ).get_data(as_text=True)
    assert 'class="step-card has-error' in html[html.index('id="step-2"') - 80:html.index('id="step-2"')]


def test_another_workspaces_segment_is_refused(client, org):
    other = make_org(name="Other")
    with tenant_scope(other.id):
        foreign = Segment(org_id=other.id, name="Theirs", rules={})
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    response = client.post("/admin/cadences/new", data=wizard(foreign_id))
    assert response.status_code == 422 and "Choose the segment it runs on." in response.get_data(as_text=True)
    assert cadence_count(org) == 0
    with tenant_scope(other.id):
        assert db.session.scalar(select(func.count()).select_from(Cadence)) == 0


def test_an_ar_manager_launches_in_shadow(client_as, org, segment_id):
    manager = client_as("ar_manager")
    review = manager.post("/admin/cadences/new", data=wizard(segment_id, action="goto:3")).get_data(as_text=True)
    assert 'value="active"' not in review and "Only a controller can launch" in review
    assert manager.post("/admin/cadences/new", data=wizard(segment_id)).status_code == 303
    assert cadence_count(org) == 1


def test_an_ar_manager_posting_launch_active_is_refused(client_as, org, segment_id):
    response = client_as("ar_manager").post("/admin/cadences/new", data=wizard(segment_id, launch="active"))
    assert response.status_code == 403 and cadence_count(org) == 0


def test_a_controller_launches_active(client, org, segment_id):
    client.post("/admin/cadences/new", data=wizard(segment_id, launch="active"))
    with tenant_scope(org.id):
        assert db.session.scalar(select(Cadence.status)) == "active"


def test_an_unknown_launch_mode_is_refused_on_the_review_step(client, org, segment_id):
    response = client.post("/admin/cadences/new", data=wizard(segment_id, launch="autopilot-now"))
    assert response.status_code == 422 and "Launch in Shadow Mode or Active." in response.get_data(as_text=True)
    assert cadence_count(org) == 0


# --- Status changes -----------------------------------------------------------------------------------

def _id(org, name: str) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(Cadence.id).where(Cadence.name == name))


def status_of(org, cadence_id: int) -> str:
    with tenant_scope(org.id):
        return db.session.get(Cadence, cadence_id).status


def test_pausing_flashes_and_audits(client, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id).id
    response = client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "paused"}, follow_redirects=True)
    assert "is paused" in response.get_data(as_text=True) and status_of(org, cadence_id) == "paused"
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cadences.status_changed"))


def test_a_paused_cadence_resumes_in_shadow(client, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id).id
    client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "paused"})
    client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "shadow"})
    assert status_of(org, cadence_id) == "shadow"


def test_archive_asks_for_confirmation(client, org, controller, segment_id):
    launched(org, controller, segment_id)
    assert 'hx-confirm="Archive “Gentle”?' in client.get("/admin/cadences").get_data(as_text=True)


def test_a_refused_transition_shows_why(client, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id, status="active").id
    response = client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "shadow"}, follow_redirects=True)
    assert "A cadence that is Active cannot be made Shadow." in response.get_data(as_text=True)
    assert status_of(org, cadence_id) == "active"


def test_an_htmx_status_change_swaps_the_list_and_toasts(client, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id).id
    response = client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "paused"},
                           headers={"HX-Request": "true", "HX-Target": "cadences"})
    assert response.get_data(as_text=True).lstrip().startswith('<section id="cadences"')
    assert json.loads(response.headers["HX-Trigger"])["shell:toast"]["level"] == "success"


def test_an_ar_manager_cannot_activate(client_as, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id).id
    response = client_as("ar_manager").post(f"/admin/cadences/{cadence_id}/status", data={"status": "active"})
    assert response.status_code == 403 and status_of(org, cadence_id) == "shadow"


def test_another_workspaces_cadence_is_not_found(client, controller):
    other = make_org(name="Other")
    theirs = make_user_cadence(other)
    assert client.post(f"/admin/cadences/{theirs}/status", data={"status": "paused"}).status_code == 404


def make_user_cadence(org) -> int:
    from tests.factories import make_user

    user = make_user(org)
    with tenant_scope(org.id):
        found = Segment(org_id=org.id, name="Theirs", rules={})
        db.session.add(found)
        db.session.flush()
        db.session.commit()
        return launched(org, user, found.id, name="Theirs").id


def test_a_shadow_cadence_past_its_14_days_prompts_to_activate(client, org, controller, segment_id):
    cadence_id = launched(org, controller, segment_id, started_days_ago=15).id
    html = client.get("/admin/cadences").get_data(as_text=True)
    prompt = html[html.index("Shadow ran 14 days"):]
    assert "“Gentle”: Shadow ran 14 days — activate?" in html and 'value="active"' in prompt[:1500]
    client.post(f"/admin/cadences/{cadence_id}/status", data={"status": "active"})
    assert status_of(org, cadence_id) == "active"
    assert "Shadow ran 14 days" not in client.get("/admin/cadences").get_data(as_text=True)


def test_a_young_shadow_cadence_does_not_prompt(client, org, controller, segment_id):
    launched(org, controller, segment_id, started_days_ago=10)
    assert "Shadow ran 14 days" not in client.get("/admin/cadences").get_data(as_text=True)


def test_the_prompt_tells_an_ar_manager_a_controller_activates(client_as, org, controller, segment_id):
    launched(org, controller, segment_id, started_days_ago=15)
    html = client_as("ar_manager").get("/admin/cadences").get_data(as_text=True)
    assert "Shadow ran 14 days" in html and "A controller can activate it." in html
    assert 'value="active"' not in html


def test_later_default_steps_do_not_repeat_each_others_wording():
    from plixo.outreach.cadence_forms import default_step

    bodies = [default_step(position, {}).body for position in (4, 5, 6)]
    assert len(set(bodies)) == 3 and default_step(4, {}).body == bodies[0]  # varied, and stable per position
