"""Replies as Plixo receives them: matched to what they answer, understood, and acted on once."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import func, select

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.ledger.eligibility import stopping_reasons
from plixo.ledger.models import Contact, Invoice
from plixo.outreach.models import Message
from plixo.replies.intake import ingest_reply
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_org, workspace_today
from tests.mail.conftest import NOW, THREAD, raw_reply


def ingest(org, raw: bytes) -> Reply:
    with tenant_scope(org.id):
        reply = ingest_reply(db.session, org, raw, NOW)
        db.session.commit()
        return reply


def reload(org, model, object_id):
    with tenant_scope(org.id):
        return db.session.get(model, object_id)


def test_a_reply_in_the_thread_is_matched_to_its_message_and_invoice(org, sent):
    _customer, invoice, reminder, _scheduled = sent
    reply = ingest(org, raw_reply("Thanks, we will pay $1,250.00 on Friday."))
    assert (reply.matched_by, reply.message_id, reply.invoice_id) == ("thread", reminder.id, invoice.id)
    assert reload(org, Message, reminder.id).replied_at == NOW
    assert reply.body == "Thanks, we will pay $1,250.00 on Friday."  # the quoted reminder is not kept


def test_a_promise_becomes_a_suggestion_the_operator_confirms(client, org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("We will pay $1,000.00 on Friday."))
    assert (reply.label, reply.amount_minor, reply.promised_date) == ("promise", 100_000, dt.date(2026, 12, 4))
    assert "Suggested promise: $1,000.00 by 4 Dec 2026" in reply.outcome
    panel = client.get(f"/work/queue/{invoice.id}", headers={"HX-Request": "true", "HX-Target": "inspector"}) \
        .get_data(as_text=True)
    assert 'id="suggested-promise"' in panel and 'value="1000.00"' in panel and 'value="2026-12-04"' in panel
    assert "Reply from ap@globex.example · promise to pay" in panel  # on the timeline
    with tenant_scope(org.id):
        assert db.session.scalar(select(func.count()).select_from(Dispute)) == 0


def test_a_dispute_reply_opens_a_dispute_from_email_that_needs_review(org, sent):
    _customer, invoice, _reminder, scheduled = sent
    ingest(org, raw_reply("We dispute this invoice: the parts arrived damaged."))
    with tenant_scope(org.id):
        dispute = db.session.scalar(select(Dispute))
        assert (dispute.source, dispute.needs_review, dispute.invoice_id) == ("email", True, invoice.id)
        assert "arrived damaged" in dispute.description
    assert reload(org, Invoice, invoice.id).status == "disputed"
    assert reload(org, Message, scheduled.id).status == "cancelled"


def test_the_same_email_twice_is_one_reply_and_one_dispute(org, sent):
    raw = raw_reply("We dispute this invoice: wrong quantity.")
    ingest(org, raw)
    ingest(org, raw)
    with tenant_scope(org.id):
        assert db.session.scalar(select(func.count()).select_from(Reply)) == 1
        assert db.session.scalar(select(func.count()).select_from(Dispute)) == 1


def test_an_out_of_office_pauses_the_customer_until_the_return_date(org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("I am out of the office and will be back on December 9.",
                                  subject="Automatic reply: Invoice INV-7001 is overdue",
                                  Auto_Submitted="auto-replied"))
    assert reply.label == "out_of_office" and reply.return_date == dt.date(2026, 12, 9)
    with tenant_scope(org.id):
        hold = db.session.scalar(select(Hold))
        assert (hold.until, hold.invoice_id) == (dt.date(2026, 12, 9), None)
        assert stopping_reasons(db.session, invoice.id, workspace_today("UTC")) != []


def test_an_unsubscribe_reply_opts_the_senders_address_out(org, sent):
    customer, _invoice, _reminder, scheduled = sent
    with tenant_scope(org.id):
        colleague = make_contact(customer, email="cfo@globex.example", is_primary=False)
        db.session.commit()
    reply = ingest(org, raw_reply("Please remove me from your mailing list."))
    assert reply.outcome == "ap@globex.example opted out of reminders."
    with tenant_scope(org.id):
        assert db.session.get(Contact, colleague.id).opted_out_at is None  # the others are the team's call
        assert db.session.scalar(select(Contact.opted_out_at).where(Contact.email == "ap@globex.example"))
    assert reload(org, Message, scheduled.id).status == "cancelled"


def test_already_paid_holds_the_invoice_while_the_payment_is_checked(org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("This was paid on Nov 20, ref 88123."))
    with tenant_scope(org.id):
        hold = db.session.scalar(select(Hold))
    assert (hold.invoice_id, hold.until) == (invoice.id, dt.date(2026, 12, 9))
    assert "held until 9 Dec 2026" in reply.outcome


def test_without_thread_headers_the_sender_and_invoice_number_match_it(org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("Can you send a copy of INV-7001?", subject="invoice", in_reply_to=None,
                                  sender="ap@GLOBEX.example"))
    assert (reply.matched_by, reply.invoice_id, reply.label) == ("invoice_number", invoice.id, "invoice_copy")
    assert reply.outcome.startswith("Asks for a copy") and reply.handled_at is None


def test_a_stranger_is_kept_unmatched_and_changes_nothing(org, sent):
    reply = ingest(org, raw_reply("We dispute this.", sender="x@unknown.example", in_reply_to=None))
    assert (reply.matched_by, reply.customer_id) == ("none", None) and "Not matched" in reply.outcome
    with tenant_scope(org.id):
        assert db.session.scalar(select(func.count()).select_from(Dispute)) == 0


def test_another_workspaces_thread_is_not_matched(org, sent):
    other = make_org(name="Other Co")
    db.session.commit()
    reply = ingest(other, raw_reply("We dispute this invoice."))  # In-Reply-To names org's message
    assert (reply.matched_by, reply.message_id) == ("none", None)
    assert reload(org, Invoice, sent[1].id).status == "open"


# Bounces

def delivery_report(recipient: str, action: str, status: str, original_id: str | None = THREAD) -> bytes:
    """A delivery status notification as mail servers send it (RFC 3464)."""
    original = f"Message-ID: {original_id}\r\nSubject: Invoice INV-7001 is overdue\r\n" if original_id else ""
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@mx.globex.example>\r\n"
        "To: ar@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{action}@mx.globex.example>\r\nDate: {format_datetime(NOW)}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.globex.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status} mailbox problem\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}\r\n--B--\r\n"
    ).encode()


def test_a_hard_bounce_marks_the_contact_and_flags_its_invoices_to_fix_it(org, sent):
    customer, invoice, reminder, _scheduled = sent
    reply = ingest(org, delivery_report("ap@globex.example", "failed", "5.1.1"))
    assert (reply.label, reply.message_id, reply.customer_id) == ("bounce", reminder.id, customer.id)
    assert "ap@globex.example: hard bounce (5.1.1" in reply.outcome and "fix the contact" in reply.outcome
    with tenant_scope(org.id):
        contact = db.session.scalar(select(Contact))
        assert (contact.bounce_kind, contact.deliverable) == ("hard", False)
        flags = db.session.get(Invoice, invoice.id).priority_detail
    assert "contact e-mail bouncing" in flags["why"]


def test_a_delayed_delivery_is_a_soft_bounce_and_sending_goes_on(org, sent):
    ingest(org, delivery_report("ap@globex.example", "delayed", "4.2.2"))
    with tenant_scope(org.id):
        contact = db.session.scalar(select(Contact))
    assert (contact.bounce_kind, contact.deliverable) == ("soft", True)


def test_a_soft_bounce_never_softens_a_hard_one(org, sent):
    ingest(org, delivery_report("ap@globex.example", "failed", "5.1.1"))
    ingest(org, delivery_report("ap@globex.example", "delayed", "4.2.2"))
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.bounce_kind)) == "hard"


def test_a_bounce_for_an_address_nobody_has_changes_nothing(org, sent):
    reply = ingest(org, delivery_report("who@else.example", "failed", "5.1.1", original_id=None))
    assert reply.customer_id is None and "nothing marked" in reply.outcome
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.bounce_kind)) is None


# What a reply must never be able to do

def test_a_stranger_replying_in_the_thread_changes_nothing(org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("Unsubscribe. Also we dispute this.", sender="someone@lawfirm.example"))
    assert reply.matched_by == "thread_stranger" and "nothing done" in reply.outcome
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.opted_out_at)) is None
    assert reload(org, Invoice, invoice.id).status == "open"


def test_a_forged_delivery_report_cannot_bounce_someone_else(org, sent):
    _customer, _invoice, _reminder, _scheduled = sent
    with tenant_scope(org.id):
        other = make_contact(make_customer(org, name="Initech"), email="boss@initech.example")
        db.session.commit()
    # Sent by Globex's payer, citing Globex's real reminder, naming Initech's address.
    ingest(org, delivery_report("boss@initech.example", "failed", "5.1.1"))
    assert reload(org, Contact, other.id).bounce_kind is None


def test_a_shared_ap_address_acts_only_on_the_invoice_the_reply_names(org, sent):
    _customer, globex_invoice, _reminder, _scheduled = sent
    with tenant_scope(org.id):
        initech = make_customer(org, name="Initech")
        make_contact(initech, email="ap@globex.example")  # one AP team pays for both companies
        initech_invoice = make_invoice(org, initech, number="INV-9001")
        db.session.commit()
    ingest(org, raw_reply("We dispute INV-9001: wrong quantity.", in_reply_to=None, subject="INV-9001"))
    assert reload(org, Invoice, initech_invoice.id).status == "disputed"
    assert reload(org, Invoice, globex_invoice.id).status == "open"


def test_a_dispute_naming_no_invoice_is_left_for_the_team(org, sent):
    _customer, invoice, _reminder, _scheduled = sent
    reply = ingest(org, raw_reply("We dispute the March freight charge.", in_reply_to=None, subject="freight"))
    assert "names no invoice" in reply.outcome and reload(org, Invoice, invoice.id).status == "open"


def test_an_html_reply_is_read_without_the_reminder_it_quotes(org, sent):
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "ap@globex.example", "RE: INV-7001", "<h@g>"
    message["In-Reply-To"] = THREAD
    message.set_content("<p>Thanks, noted.</p><div class=\"gmail_quote\"><blockquote>If it has already been paid, "
                        "thank you. Unsubscribe here. Tell us when payment will be made.</blockquote></div>",
                        subtype="html")
    reply = ingest(org, message.as_bytes())
    assert reply.label == "other" and reply.body == "Thanks, noted."


def test_malformed_mail_is_still_stored(org, sent):
    raw = (b"From: ap@globex.example\r\nMessage-ID: \xe2\x80\xb9\r\nSubject: x\r\n"
           b"Content-Type: text/plain; charset=x-unknown\r\n\r\nWe will pay on Friday.\r\n")
    reply = ingest(org, raw)
    assert reply.id is not None and reply.label == "promise"


def test_an_out_of_office_never_pauses_a_customer_for_months(org, sent):
    ingest(org, raw_reply("I am on leave and will be back on 1 September 2027.", subject="Out of office"))
    with tenant_scope(org.id):
        assert db.session.scalar(select(Hold.until)) == dt.date(2027, 1, 1)


def test_relative_dates_count_from_the_senders_own_day(org, sent):
    # 23:30 on Wednesday 2 December in California is already Thursday in the workspace's UTC.
    raw = raw_reply("We will pay tomorrow.", message_id="<late@globex.example>")
    raw = raw.replace(b"Date: Wed, 02 Dec 2026 15:00:00 +0000", b"Date: Wed, 02 Dec 2026 23:30:00 -0800")
    with tenant_scope(org.id):
        reply = ingest_reply(db.session, org, raw, dt.datetime(2026, 12, 3, 7, 31, tzinfo=dt.UTC))
        db.session.commit()
    assert (reply.label, reply.promised_date) == ("promise", dt.date(2026, 12, 3))


def exchange_notice(sender: str = "postmaster@acme.onmicrosoft.com", status: str = "5.1.10") -> bytes:
    """An Exchange Online non-delivery notice: prose, and the original attached, without a delivery report."""
    notice = EmailMessage()
    notice["From"], notice["To"] = sender, "ar@acme.example"
    notice["Subject"], notice["Message-ID"] = "Undeliverable: Invoice INV-7001 is overdue", "<ndr-1@outlook.example>"
    notice["Date"] = format_datetime(NOW)
    notice.set_content("Your message to ap@globex.example couldn't be delivered.\n\nDiagnostic information for "
                       f"administrators:\nRemote Server returned '550 {status} RESOLVER.ADR.RecipientNotFound'")
    original = EmailMessage()
    original["From"], original["To"], original["Message-ID"] = "ar@acme.example", "ap@globex.example", THREAD
    original["Subject"] = "Invoice INV-7001 is overdue"
    original.set_content("Please pay.")
    notice.add_attachment(original)
    return notice.as_bytes()


def test_a_providers_notice_without_a_report_still_marks_the_hard_bounce(org, sent):
    _customer, _invoice, reminder, _scheduled = sent
    reply = ingest(org, exchange_notice())
    assert (reply.label, reply.message_id) == ("bounce", reminder.id)
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.bounce_kind)) == "hard"
        assert db.session.get(Message, reminder.id).bounced_at is not None


def test_a_notice_from_anyone_but_a_mail_system_marks_nothing(org, sent):
    reply = ingest(org, exchange_notice(sender="ap@globex.example"))
    assert reply.label != "bounce"
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.bounce_kind)) is None


def test_a_reply_plixo_acted_on_is_handled_and_one_it_did_not_waits(org, sent):
    acted = ingest(org, raw_reply("We dispute this invoice: the parts arrived damaged."))
    waiting = ingest(org, raw_reply("Who is our account manager these days?", message_id="<who@globex.example>"))
    assert (acted.handled_at is not None, acted.handled_how) == (True, "Handled automatically")
    assert waiting.handled_at is None and waiting.outcome == "For the team to read."


def test_an_unsure_reading_is_not_acted_on_and_waits(org, sent, monkeypatch):
    from plixo.replies.classifier import Understanding

    _customer, invoice, _reminder, _scheduled = sent
    unsure = Understanding("dispute", 0.6, ("“not what we expected”",))
    monkeypatch.setattr("plixo.replies.intake.classify_reply", lambda *args, **kwargs: unsure)
    reply = ingest(org, raw_reply("Not what we expected. Let's talk."))
    assert reply.handled_at is None and "60 % sure" in reply.outcome
    assert reload(org, Invoice, invoice.id).status == "open"
