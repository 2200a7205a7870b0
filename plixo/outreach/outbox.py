"""The outbox sender: due messages are leased, checked again, sent once, and their outcome recorded.

Exactly-once rests on four rules:
1. A message is leased (status `sending`, `claimed_until`) and that is committed before anything is sent,
   so two senders never hold the same message.
2. Just before the hand-over to the transport the status becomes `delivering`, committed. A sender that
   dies before that point never sent it: once the lease runs out the message simply goes back to the queue.
3. The outcome is committed right after the transport answers. A message still `delivering` after its
   lease belongs to a sender that died mid-send: whether the e-mail left cannot be known, so it goes to
   `review` for a person, never back to the queue.
4. Only failures known to have happened before the server accepted the message are retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.failpoints import failpoint
from plixo.ledger.aging import local_today
from plixo.ledger.models import Contact, Customer
from plixo.outreach.cadences import is_engine_message, rerender
from plixo.outreach.guardrails import may_send_at, next_allowed_moment
from plixo.outreach.models import Message, MessageInvoice, Policy
from plixo.outreach.planner import TOUCHED, WEEK, daily_cap, earliest_touch
from plixo.queue.service import stopping_reasons_by_invoice

LEASE = dt.timedelta(minutes=5)
BATCH = 200
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30))


class PermanentFailure(Exception):  # noqa: N818 - outcomes, named for what happened
    """The server refused the message for good: the mailbox (a bounce) or the message itself."""

    def __init__(self, message: str, bounce: bool = False):
        super().__init__(message)
        self.bounce = bounce


class TransientFailure(Exception):  # noqa: N818
    """Nothing was accepted and trying later may work (connection refused, 4xx)."""


class UnknownOutcome(Exception):  # noqa: N818
    """The connection broke while the message was being handed over: it may or may not have left."""


class Transport(Protocol):
    def send(self, email: EmailMessage) -> str:
        """Hand the message over; returns the provider's id for it."""

    def close(self) -> None: ...


def message_id_header(message: Message, domain: str) -> str:
    """The RFC 5322 Message-ID: derived from the idempotency key, so every attempt carries the same one."""
    digest = hashlib.sha256(f"{message.org_id}:{message.idempotency_key}".encode()).hexdigest()[:24]
    return f"<{digest}.{message.id}@{domain}>"


def local_midnight(org: Organization, now: dt.datetime) -> dt.datetime:
    """The start of the workspace's day at `now` (daily caps count from it)."""
    return now.astimezone(ZoneInfo(org.time_zone)).replace(hour=0, minute=0, second=0, microsecond=0)


def sent_today_count(org: Organization, now: dt.datetime):
    """SELECT of how many e-mails the workspace has sent since its local midnight (the daily cap's count).
    One whose outcome is unknown counts: it may well have left."""
    return select(func.count()).select_from(Message).where(
        Message.org_id == org.id, Message.status.in_(TOUCHED),
        func.coalesce(Message.sent_at, Message.updated_at) >= local_midnight(org, now))


def reconcile_stuck(session: Session, now: dt.datetime) -> dict[str, int]:
    """The current workspace's messages whose sender died: back to the queue if never handed over, else
    flagged for review."""
    expired = Message.claimed_until < now
    requeued = session.execute(
        update(Message).where(Message.status == "sending", expired)
        .values(status="scheduled", claimed_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    flagged = session.execute(
        update(Message).where(Message.status == "delivering", expired)
        .values(status="review", last_error="The sender stopped while handing this e-mail over; check the "
                                            "mailbox's sent items before sending it again.", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return {"requeued": requeued or 0, "review": flagged or 0}


def claim_due(session: Session, now: dt.datetime, limit: int = BATCH) -> list[int]:
    """Lease up to `limit` of the current workspace's due messages to this sender; committed before any send."""
    due = (select(Message.id).where(Message.status == "scheduled", Message.scheduled_for <= now)
           .order_by(Message.scheduled_for, Message.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # concurrent senders take different messages
    ids = list(session.scalars(due))
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids), Message.status == "scheduled")
                        .values(status="sending", claimed_until=now + LEASE, attempts=Message.attempts + 1,
                                updated_at=now)
                        .execution_options(synchronize_session=False))
    session.commit()
    return ids


def deliver(session: Session, message_id: int, transport: Transport, now: dt.datetime, sender: tuple[str, str]) -> str:
    """Send one leased message of the current workspace if it may still go; returns the outcome (sent,
    cancelled, deferred, ...)."""
    message = session.get(Message, message_id, populate_existing=True)
    if message is None:
        return "missing"
    if message.status != "sending":
        return "skipped"
    failpoint("outbox_before_handover")
    outcome = _send_if_still_allowed(session, message, transport, now, sender)
    session.commit()
    return outcome


def _send_if_still_allowed(session, message: Message, transport: Transport, now, sender) -> str:
    org = session.get(Organization, message.org_id)
    stop = _stop_reason(session, message, org, local_today(org.time_zone, now))
    if stop:
        message.status, message.last_error = "cancelled", stop
        return "cancelled"
    policy = session.scalar(select(Policy).where(Policy.org_id == org.id))
    zone = ZoneInfo(session.get(Customer, message.customer_id).time_zone or org.time_zone)
    wait = _wait_reason(session, org, policy, message, zone, now)
    if wait is not None:
        reason, moment = wait
        message.status, message.scheduled_for, message.wait_reason = "scheduled", moment, reason
        return "deferred"
    email = _email_of(message, org, sender, now)
    message.message_id_header, message.status = email["Message-ID"], "delivering"
    session.commit()  # from here on a crash means "outcome unknown", never "send again"
    failpoint("outbox_before_send")
    try:
        provider_id = transport.send(email)
    except PermanentFailure as error:
        message.status, message.last_error = "failed", str(error)[:2000]
        if error.bounce:
            _mark_bounced(session, message, now)
        return "failed"
    except TransientFailure as error:
        return _retry_later(message, now, str(error))
    except UnknownOutcome as error:
        message.status, message.last_error = "review", f"Outcome unknown: {error}"[:2000]
        return "review"
    failpoint("outbox_after_send")
    message.status, message.sent_at, message.provider_message_id = "sent", now, provider_id
    message.claimed_until = None
    return "sent"


def _stop_reason(session: Session, message: Message, org: Organization, today: dt.date) -> str | None:
    """Why the message must not go at all any more (a payment, dispute, hold or opt-out since scheduling).

    An e-mail the engine consolidated goes on for the invoices still eligible, re-rendered without the
    others; an e-mail a person wrote goes as written or not at all.
    """
    invoice_ids = set(session.scalars(select(MessageInvoice.invoice_id).where(
        MessageInvoice.org_id == message.org_id, MessageInvoice.message_id == message.id)))
    if message.invoice_id:
        invoice_ids.add(message.invoice_id)
    reasons = stopping_reasons_by_invoice(session, invoice_ids, today)
    stopped = {invoice_id: "; ".join(reasons.get(invoice_id, ["Invoice not found"]))
               for invoice_id in sorted(invoice_ids) if reasons.get(invoice_id, True)}
    engine_made = is_engine_message(message)
    if stopped and not (engine_made and len(stopped) < len(invoice_ids)):
        return next(iter(stopped.values()))
    if engine_made:
        rerender(session, message, org, exclude=set(stopped), today=today)
    return _recipient_stop_reason(session, message, today)


def _recipient_stop_reason(session: Session, message: Message, today: dt.date) -> str | None:
    contact = session.get(Contact, message.contact_id) if message.contact_id else None
    if contact is None or not contact.email:
        return "No recipient."
    if contact.opted_out_at is not None:
        return "The recipient opted out."
    if contact.bounce_kind == "hard":
        return "The recipient's address bounced."
    if contact.suppressed_until is not None and contact.suppressed_until > today:
        return f"The recipient is suppressed until {contact.suppressed_until:%d %b %Y}."
    return None


def _wait_reason(session, org, policy, message, zone, now) -> tuple[str, dt.datetime] | None:
    """When the message may not go yet: why, and from when it may."""
    if not may_send_at(now, zone, policy):
        moment = next_allowed_moment(now, zone, policy)
        if moment is None:
            return "The policy allows no sending day.", now + dt.timedelta(days=1)
        return f"Quiet hours: waits until {moment.astimezone(zone):%a %H:%M} in {zone.key}", moment
    if message.cadence_step_id is not None:  # automated touches keep the gap and the weekly cap
        moment, reason = earliest_touch(_recent_touches(session, message, policy, now), now, policy)
        if reason is not None:
            moment = next_allowed_moment(moment, zone, policy) or moment
            return f"{reason}: waits until {moment.astimezone(zone):%a %d %b %H:%M} in {zone.key}", moment
    cap = daily_cap(policy)
    if (session.scalar(sent_today_count(org, now)) or 0) >= cap:
        tomorrow = (local_midnight(org, now) + dt.timedelta(days=1)).astimezone(dt.UTC)
        moment = next_allowed_moment(tomorrow, zone, policy) or tomorrow
        return f"Daily cap of {cap} reached", moment
    return None


def _recent_touches(session: Session, message: Message, policy: Policy, now: dt.datetime) -> list[dt.datetime]:
    """The customer's other e-mails that left (or may have) recently enough to matter for the touch rules."""
    when = func.coalesce(Message.sent_at, Message.updated_at)
    since = now - max(WEEK, dt.timedelta(hours=policy.min_gap_hours))
    return list(session.scalars(select(when).where(
        Message.org_id == message.org_id, Message.customer_id == message.customer_id, Message.id != message.id,
        Message.status.in_(TOUCHED), when >= since)))


def _retry_later(message: Message, now: dt.datetime, error: str) -> str:
    if message.attempts > len(RETRY_DELAYS):
        message.status, message.last_error = "failed", f"Gave up after {message.attempts} attempts: {error}"[:2000]
        return "failed"
    message.status = "scheduled"
    message.scheduled_for = now + RETRY_DELAYS[message.attempts - 1]
    message.wait_reason, message.last_error = "Retrying after a temporary error", error[:2000]
    return "retry"


def _mark_bounced(session: Session, message: Message, now: dt.datetime) -> None:
    contact = session.get(Contact, message.contact_id) if message.contact_id else None
    if contact is not None:
        contact.bounce_kind, contact.bounced_at = "hard", now


def _email_of(message: Message, org: Organization, sender: tuple[str, str], now: dt.datetime) -> EmailMessage:
    name, address = sender
    email = EmailMessage()
    email["From"] = formataddr((name or org.name, address))
    email["To"] = message.to_email
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id_header(message, address.rsplit("@", 1)[-1])
    email["X-Plixo-Message"] = str(message.id)
    email.set_content(message.body)
    return email
