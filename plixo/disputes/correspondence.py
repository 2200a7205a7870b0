"""Writing to the payer about their dispute: four response templates (acknowledge, ask for information, resolved
valid, resolved invalid) drafted with the usual merge fields, sent through the outbox and the send guard like any
e-mail, and allowed although the invoice is out of the queue as disputed (it is about the dispute, not a chase)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.disputes.models import Dispute
from plixo.disputes.reasons import reason_labels
from plixo.ledger.aging import local_today
from plixo.ledger.contacts import first_reachable
from plixo.ledger.models import Contact, Invoice
from plixo.ledger.payer_links import link_maker
from plixo.outreach import sends
from plixo.outreach.merge_fields import merge_values
from plixo.outreach.models import Message

RESPONSES = {
    "acknowledge": ("We received your query about invoice {invoice_number}",
                    "Hello,\n\nThank you for letting us know about invoice {invoice_number} ({reason}). We are looking "
                    "into it and will come back to you by {sla_day}. Reminders about this invoice are paused "
                    "meanwhile.\n\nKind regards,\n{sender_name}\n\n{signature}"),
    "request_info": ("Invoice {invoice_number}: a few details to resolve your query",
                     "Hello,\n\nTo resolve your query about invoice {invoice_number} ({reason}), could you send us "
                     "the documents that show it (for example the delivery note, the purchase order or the agreed "
                     "price)? You can reply to this e-mail or add them in your portal: {portal_link}\n\n"
                     "Kind regards,\n{sender_name}\n\n{signature}"),
    "resolved_valid": ("Invoice {invoice_number}: your query is resolved",
                       "Hello,\n\nWe looked into invoice {invoice_number} and agree with you: {resolution}. We will "
                       "send the corrected document shortly.\n\nKind regards,\n{sender_name}\n\n{signature}"),
    "resolved_invalid": ("Invoice {invoice_number}: the outcome of your query",
                         "Hello,\n\nWe looked into invoice {invoice_number} carefully: {resolution} The invoice stands "
                         "as billed, {amount_due} due. You can pay it here: {portal_link}\n\n"
                         "Kind regards,\n{sender_name}\n\n{signature}"),
}
RESPONSE_LABELS = {"acknowledge": "Acknowledge", "request_info": "Request information",
                   "resolved_valid": "Resolved: valid", "resolved_invalid": "Resolved: invalid"}


def suggested_response(dispute: Dispute) -> str:
    """The template that fits where the dispute stands."""
    if dispute.status == "resolved":
        return "resolved_valid" if dispute.verdict == "valid" else "resolved_invalid"
    return "request_info" if dispute.status == "waiting_customer" else "acknowledge"


def draft_response(session: Session, org: Organization, dispute: Dispute, template: str) -> tuple[str, str]:
    """The template's subject and body with the dispute's own words filled in; merge fields stay for the preview
    and the send to fill."""
    if template not in RESPONSES:
        template = suggested_response(dispute)
    subject, body = RESPONSES[template]
    own = {"{reason}": reason_labels(session, org.id).get(dispute.reason, dispute.reason).lower(),
           "{sla_day}": _sla_day(dispute, org),
           "{resolution}": dispute.resolution_note.strip() or "see the details below."}
    for field, value in own.items():
        body = body.replace(field, value)
    return subject, body


def _sla_day(dispute: Dispute, org: Organization) -> str:
    if dispute.sla_due_at is None:
        return "the end of next week"
    return f"{(dispute.sla_due_at - dt.timedelta(seconds=1)).astimezone(ZoneInfo(org.time_zone)):%A %-d %B}"


def recipient_of(session: Session, invoice: Invoice, today: dt.date) -> Contact | None:
    """The customer's first reachable contact, primary first (the queue's choice)."""
    contacts = session.scalars(select(Contact).where(Contact.org_id == invoice.org_id,
                                                     Contact.customer_id == invoice.customer_id)
                               .order_by(Contact.is_primary.desc(), Contact.id))
    return first_reachable(contacts, today)


def send_response(session: Session, org: Organization, dispute: Dispute, user: User, subject: str, body: str,
                  now: dt.datetime, reply_read: bool = False) -> Message:
    """Put the e-mail in the outbox about this dispute, through the send guard."""
    if not subject.strip() or not body.strip():
        raise ActionError("Write a subject and a message.", "body")
    invoice = session.get(Invoice, dispute.invoice_id)
    today = local_today(org.time_zone, now)
    values = merge_values(invoice, today, user.name, link_maker(session, org.id))
    recipient = recipient_of(session, invoice, today)
    message = sends.send_email(session, org, invoice, user, subject, body, values, recipient, now,
                               reply_read=reply_read, dispute_id=dispute.id)
    audit.record(session, org_id=org.id, actor=user, action="disputes.response_sent", subject=dispute,
                 after={"message_id": message.id, "to": message.to_email})
    return message
