"""A payer's reply, from raw e-mail to what Plixo does about it.

The reply is matched to the outbox message it answers by In-Reply-To/References (the Message-IDs Plixo set),
else to the customer by the sender's address and to the invoice by a number it mentions. It is classified
(plixo.replies.classifier) and acted on:

- dispute: the invoice is disputed, flagged "from e-mail, needs review";
- promise: a suggested promise (amount and date) waits for an operator to confirm it in Replies;
- out of office: the customer's outreach pauses until the return date (a week when none is given);
- unsubscribe: the sender is opted out;
- already paid: the invoice is held for a week while someone checks the remittance;
- invoice copy and other: nothing automatic.

Only a confident reading with one intent is acted on (plixo.replies.acting). Whatever is not fully acted on waits
in Replies (/work/replies), and the customer's chase is paused until a person handles it.

New e-mails come from the connected inbox (fetch_replies: IMAP, or Microsoft Graph's delta of the inbox), read
from where the last run stopped.

A delivery status notification (RFC 3464) is not a reply: it marks the recipient bounced, hard (the address is
gone: no more e-mails to it, and the queue flags its invoices so someone fixes the contact) or soft (a full
mailbox: sending goes on). The same e-mail ingested twice is one reply (its Message-ID is unique per workspace).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import html
import logging
import re
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.connectors.models import Connection
from plixo.integrations.mail.drafts import NETWORK_ERRORS
from plixo.integrations.mail.imap import MailboxError, Position
from plixo.integrations.mail.outcomes import NeedsReauthorising, ProviderError
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.ledger.priority import rescore_customer
from plixo.mail.inbox import (
    API_MAILBOXES,
    api_mailbox,
    gmail_mailbox,
    graph_mailbox,
    imap_mailbox,
    needs_reauthorising,
    secrets_of,
)
from plixo.outreach.models import Message
from plixo.replies.acting import act_automatically
from plixo.replies.classifier import AUTO_CONFIDENCE, Understanding, classify_reply, own_words
from plixo.replies.dates import month_first_for
from plixo.replies.models import Reply

log = logging.getLogger(__name__)
READ_PER_RUN = 200  # a backlog is read over several runs rather than one long one
TRUST_DATE_HEADER_FOR = dt.timedelta(days=2)  # older than this, the header is wrong or the mail sat somewhere
MAX_RAW_BYTES = 5 * 1024 * 1024
_MESSAGE_IDS = re.compile(r"<[^<>\s]{1,250}>")
_QUOTED_HTML = re.compile(r"<blockquote\b.*?</blockquote>|<div[^>]*(?:gmail_quote|divRplyFwdMsg|moz-cite-prefix)"
                          r"[^>]*>.*|<(style|script)\b.*?</\1>", re.I | re.S)
_TAGS = re.compile(r"<[^<>]{0,2000}>")


def fetch_replies(session: Session, org: Organization, connection: Connection, now: dt.datetime) -> int:
    """Read what arrived in the connected inbox since the last run into the reply intake; returns how many e-mails
    were read. A mailbox that cannot be read is marked on its connection and read again on the next run.

    The position is saved with the replies it covers (one commit by the caller), so a crash re-reads them and
    the intake, idempotent on Message-ID, keeps each once.
    """
    if connection.provider in API_MAILBOXES and api_mailbox(connection) is None:
        return 0  # waiting to be re-authorised: asking again would only be refused again
    try:
        position, raws = _read_mailbox(connection)
    except NeedsReauthorising as refused:
        needs_reauthorising(connection, str(refused))
        return 0
    except (MailboxError, ProviderError, *NETWORK_ERRORS) as failed:
        connection.status, connection.last_error = "error", f"Reading replies failed: {failed}"[:2000]
        return 0
    for raw in raws:
        _ingest_one(session, org, raw, now)
    connection.settings = connection.settings | position
    connection.status, connection.last_error, connection.last_sync_at = "active", None, now
    return len(raws)


def _ingest_one(session: Session, org: Organization, raw: bytes, now: dt.datetime) -> None:
    """One e-mail in its own savepoint: an e-mail that cannot be understood (or one a concurrent read stored a
    moment ago) must not hold back the rest of the inbox run after run."""
    try:
        with session.begin_nested():
            ingest_reply(session, org, raw, now)
    except IntegrityError:
        pass  # the same e-mail, stored by another read at the same moment
    except Exception:
        log.exception("Workspace %s: an inbound e-mail could not be read and was skipped", org.id)


def _read_mailbox(connection: Connection) -> tuple[dict, list[bytes]]:
    """New e-mails in the inbox, and the settings that record where reading stopped."""
    settings = connection.settings
    if connection.provider == "microsoft":
        link, raws = graph_mailbox(connection).read_after(settings["delta_link"], READ_PER_RUN)
        return {"delta_link": link}, raws
    if connection.provider == "gmail":
        history_id, raws = gmail_mailbox(connection).read_after(settings["history_id"], READ_PER_RUN)
        return {"history_id": history_id}, raws
    with imap_mailbox(settings, secrets_of(connection).get("password", "")) as mailbox:
        since = Position(settings["imap_uidvalidity"], settings["imap_last_uid"])
        position, raws = mailbox.read_after(since, READ_PER_RUN)
    return {"imap_uidvalidity": position.uidvalidity, "imap_last_uid": position.last_uid}, raws


def ingest_reply(session: Session, org: Organization, raw: bytes, now: dt.datetime) -> Reply:
    """Store, match, classify and act on one inbound e-mail (idempotent on its Message-ID)."""
    raw = raw[:MAX_RAW_BYTES]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    header_id = _header(parsed, "Message-ID").strip()[:300] or f"<{hashlib.sha256(raw).hexdigest()}@plixo.unknown>"
    existing = _stored(session, org, header_id)
    if existing is not None:
        return existing
    sender = parseaddr(_header(parsed, "From"))[1].lower()
    subject, text = _header(parsed, "Subject")[:300], _text_of(parsed)
    received_at = _received_at(parsed, now)
    bounces = delivery_failures(parsed) or notice_failures(parsed, sender, subject, text)
    if bounces:
        return _record_bounces(session, org, parsed, header_id[:300], sender, subject, bounces, received_at, now)
    message, customer, invoice, matched_by = _match(session, org, parsed, sender, subject + "\n" + text)
    currency = invoice.currency if invoice is not None else org.base_currency
    zone = (customer.time_zone if customer else None) or org.time_zone
    understood = classify_reply(subject, text, _senders_day(parsed, received_at, zone), currency,
                                {name: _header(parsed, name) for name in parsed},
                                month_first_for(zone, _header(parsed, "Content-Language") or None))
    reply = Reply(org_id=org.id, header_message_id=header_id[:300], message_id=message.id if message else None,
                  customer_id=customer.id if customer else None, invoice_id=invoice.id if invoice else None,
                  matched_by=matched_by, from_email=sender[:320], subject=subject, body=own_words(text)[:20_000],
                  received_at=received_at, label=understood.label, confidence_pct=round(understood.confidence * 100),
                  reasons=list(understood.reasons), currency=currency, amount_minor=understood.amount_minor,
                  promised_date=understood.promised_date, return_date=understood.return_date)
    try:
        with session.begin_nested():  # the same e-mail fetched by two workers at once: one reply
            session.add(reply)
            session.flush()
    except IntegrityError:
        return _stored(session, org, header_id)
    if message is not None and message.replied_at is None:
        message.replied_at = received_at
    acted = act_automatically(session, org, reply, customer, invoice, _confident(understood), now)
    reply.outcome = acted.outcome[:300]
    if acted.settled:
        reply.handled_at, reply.handled_how = now, "Handled automatically"
    audit.record(session, org_id=org.id, actor=f"Reply from {sender or 'unknown sender'}", action="mail.reply_received",
                 subject=invoice or customer or reply,
                 after={"reply_id": reply.id, "label": reply.label, "matched_by": matched_by, "outcome": reply.outcome})
    return reply


# --- Bounces (RFC 3464 delivery status notifications) -------------------------------------------------------

def delivery_failures(parsed: EmailMessage) -> list[tuple[str, str, str]]:
    """(recipient, "hard" or "soft", status and diagnostic) for each recipient a delivery report says failed or
    is delayed; empty for anything that is not a delivery report."""
    if parsed.get_content_type() != "multipart/report":
        return []
    failures = []
    for part in parsed.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:  # per-message fields, then one block per recipient
            kind = _bounce_kind(str(block.get("Action") or ""), str(block.get("Status") or ""))
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            if kind and recipient:
                detail = f"{block.get('Status') or ''} {block.get('Diagnostic-Code') or ''}".strip()
                address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
                failures.append((address, kind, detail[:200]))
    return failures


_MAIL_SYSTEMS = re.compile(r"^(mailer-daemon|postmaster|microsoftexchange[0-9a-f]*|mail-daemon)@", re.I)
_NOTICE_SUBJECTS = re.compile(r"^(undeliverable|undelivered mail|delivery status notification|mail delivery "
                              r"(failed|failure|subsystem)|returned mail|failure notice)", re.I)
_ENHANCED_STATUS = re.compile(r"\b([45])\.\d{1,3}\.\d{1,3}\b")


def notice_failures(parsed: EmailMessage, sender: str, subject: str, text: str) -> list[tuple[str, str, str]]:
    """A provider's bounce notice without a machine-readable report (Exchange Online's and some hosts' are only
    prose plus the original message): the status code in the prose and the original's recipient. Like any
    report, it only counts for a message Plixo sent (checked when it is recorded)."""
    if not (_MAIL_SYSTEMS.match(sender) and _NOTICE_SUBJECTS.match(subject.strip())):
        return []
    status = _ENHANCED_STATUS.search(text)
    original = _returned_original(parsed)
    if status is None or original is None:
        return []
    recipients = [address.lower() for _name, address in getaddresses(original.get_all("To", []))]
    kind = "hard" if status[1] == "5" else "soft"
    return [(address, kind, status[0]) for address in recipients if address]


def _returned_original(parsed: EmailMessage) -> EmailMessage | None:
    for part in parsed.walk():
        if part.get_content_type() in ("text/rfc822-headers", "message/rfc822"):
            payload = part.get_payload()
            return payload[0] if isinstance(payload, list) else email.message_from_string(str(payload))
    return None


def _bounce_kind(action: str, status: str) -> str | None:
    action, status = action.strip().lower(), status.strip()
    if action == "failed" or status.startswith("5."):
        return "hard"
    if action == "delayed" or status.startswith("4."):
        return "soft"
    return None


def _record_bounces(session: Session, org: Organization, parsed: EmailMessage, header_id: str, sender: str,
                    subject: str, bounces: list[tuple[str, str, str]], received_at: dt.datetime,
                    now: dt.datetime) -> Reply:
    bounced_message = _reported_message(session, org, parsed)
    outcomes, customer_id = [], None
    for recipient, kind, detail in bounces:
        contacts = _bounced_contacts(session, org, bounced_message, recipient)
        for contact in contacts:
            if contact.bounce_kind != "hard":  # a soft bounce never softens a hard one
                contact.bounce_kind = kind
            contact.bounced_at, customer_id = received_at, contact.customer_id
            audit.record(session, org_id=org.id, actor="Mail server", action=f"mail.{kind}_bounce", subject=contact,
                         after={"email": recipient, "detail": detail})
            rescore_customer(session, org, contact.customer_id, now)
        if contacts and kind == "hard":
            bounced_message.bounced_at = received_at  # counts toward its sending domain's bounce rate
        outcomes.append(f"{recipient}: {kind} bounce ({detail or 'no detail'})"
                        + (": fix the contact" if kind == "hard" and contacts else "")
                        + ("" if contacts else ", not the recipient of an e-mail Plixo sent: nothing marked"))
    if bounced_message is not None:
        customer_id = bounced_message.customer_id
    reply = Reply(org_id=org.id, header_message_id=header_id, customer_id=customer_id,
                  message_id=bounced_message.id if bounced_message else None,
                  invoice_id=bounced_message.invoice_id if bounced_message else None,
                  matched_by="thread" if bounced_message else ("sender" if customer_id else "none"),
                  from_email=sender[:320], subject=subject, body="", received_at=received_at, label="bounce",
                  confidence_pct=100, reasons=[detail for _r, _k, detail in bounces], outcome="; ".join(outcomes)[:300])
    session.add(reply)
    session.flush()
    return reply


def _bounced_contacts(session: Session, org: Organization, message: Message | None, recipient: str) -> list[Contact]:
    """Anyone can send something shaped like a delivery report: it only counts for the recipient of a message
    Plixo sent, whose Message-ID the report returns."""
    if message is None or message.status != "sent" or (message.to_email or "").lower() != recipient:
        return []
    return list(session.scalars(select(Contact).where(Contact.org_id == org.id,
                                                      Contact.customer_id == message.customer_id,
                                                      func.lower(Contact.email) == recipient)))


def _reported_message(session: Session, org: Organization, parsed: EmailMessage) -> Message | None:
    """The outbox message a delivery report is about, by the Message-ID of the original it returns."""
    original = _returned_original(parsed)
    ids = _MESSAGE_IDS.findall(str(original.get("Message-ID") or "")) if original is not None else []
    if not ids:
        return None
    return session.scalar(select(Message).where(Message.org_id == org.id, Message.message_id_header == ids[0]))


def _stored(session: Session, org: Organization, header_id: str) -> Reply | None:
    return session.scalar(select(Reply).where(Reply.org_id == org.id, Reply.header_message_id == header_id))


def _header(parsed: EmailMessage, name: str) -> str:
    """A header as text; a malformed one is read raw rather than refused (the reply still counts)."""
    try:
        return str(parsed[name] or "")
    except (IndexError, ValueError, TypeError, LookupError):
        raw = parsed.get_all(name, failobj=[""])
        return str(raw[0]) if raw else ""


def _text_of(parsed: EmailMessage) -> str:
    try:
        part = parsed.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset: read the bytes as UTF-8, replacing what is not
            content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    except (KeyError, ValueError, TypeError):
        return ""
    if part.get_content_subtype() != "html":
        return content
    # The quoted reminder of an HTML reply sits in a blockquote or a mail client's quote block: drop it first.
    return html.unescape(_TAGS.sub(" ", _QUOTED_HTML.sub(" ", content[:MAX_RAW_BYTES])))


def _received_at(parsed: EmailMessage, now: dt.datetime) -> dt.datetime:
    sent = _trusted_date_header(parsed, now)
    return now if sent is None else sent.astimezone(dt.UTC)  # else the moment it arrived is what is known


def _trusted_date_header(parsed: EmailMessage, now: dt.datetime) -> dt.datetime | None:
    """The Date header, in the sender's own offset, unless it has no zone or the sender's clock is far off."""
    try:
        sent = parsedate_to_datetime(_header(parsed, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    if sent.tzinfo is None or not now - TRUST_DATE_HEADER_FOR <= sent <= now + dt.timedelta(hours=1):
        return None
    return sent


def _senders_day(parsed: EmailMessage, received_at: dt.datetime, zone: str) -> dt.date:
    """The day it was for the sender when they wrote: "tomorrow" and "Friday" count from there. The Date header
    carries the sender's offset; without one, the customer's time zone, else the workspace's."""
    written = _trusted_date_header(parsed, received_at + dt.timedelta(minutes=1))
    if written is not None:
        return written.date()
    return received_at.astimezone(ZoneInfo(zone)).date()


# --- Matching -----------------------------------------------------------------------------------------------

def _match(session: Session, org: Organization, parsed: EmailMessage, sender: str, text: str):
    """(message, customer, invoice, how) for the reply: its thread first, else its sender and an invoice number."""
    thread = _MESSAGE_IDS.findall(f"{_header(parsed, 'In-Reply-To')} {_header(parsed, 'References')}")[:50]
    customer_ids = _customers_of_sender(session, org, sender)
    if thread:
        message = session.scalar(select(Message).where(Message.org_id == org.id,
                                                       Message.message_id_header.in_(thread))
                                 .order_by(Message.id.desc()).limit(1))
        if message is not None:
            invoice = session.get(Invoice, message.invoice_id) if message.invoice_id else None
            # Anyone can reply in a thread (a forward, a guessed Message-ID): only the customer's own contacts
            # are acted on; anyone else's reply is kept for the team to read.
            how = "thread" if message.customer_id in customer_ids else "thread_stranger"
            return message, session.get(Customer, message.customer_id), invoice, how
    if not customer_ids:
        return None, None, None, "none"
    invoice = _mentioned_invoice(session, org, customer_ids, text)
    if invoice is not None:
        return None, session.get(Customer, invoice.customer_id), invoice, "invoice_number"
    if len(customer_ids) > 1:
        return None, None, None, "ambiguous_sender"  # a shared AP address and no invoice named: whose is it?
    return None, session.get(Customer, customer_ids[0]), None, "sender"


def _customers_of_sender(session: Session, org: Organization, sender: str) -> list[int]:
    if not sender:
        return []
    return list(session.scalars(select(Contact.customer_id).distinct()
                                .where(Contact.org_id == org.id, func.lower(Contact.email) == sender)))


def _mentioned_invoice(session: Session, org: Organization, customer_ids: list[int], text: str) -> Invoice | None:
    """The one open or disputed invoice of these customers the text names by number (none when it names several)."""
    invoices = session.scalars(select(Invoice).where(Invoice.org_id == org.id, Invoice.customer_id.in_(customer_ids),
                                                     Invoice.status.in_(("open", "disputed")))).all()
    mentioned = [i for i in invoices if re.search(rf"(?<![\w-]){re.escape(i.number)}(?![\w-])", text, re.I)]
    return mentioned[0] if len(mentioned) == 1 else None


def _confident(understood: Understanding) -> bool:
    """A reading sure enough, with one intent, to act on without a person."""
    return understood.confidence >= AUTO_CONFIDENCE and not understood.mixed
