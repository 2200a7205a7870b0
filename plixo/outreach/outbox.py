"""The outbox sender: due messages are leased, checked again, sent once, and their outcome recorded.

Exactly-once rests on four rules:
1. A message is leased (status `sending`, `claimed_until`) and that is committed before anything is sent,
   so two senders never hold the same message.
2. Just before the hand-over to the transport the status becomes `delivering`, committed. A sender that
   dies before that point never sent it: once the lease runs out the message simply goes back to the queue.
3. The outcome is committed with the next message's hand-over (one commit per e-mail), or at the end of the
   batch. A message still `delivering` after its lease belongs to a sender that died before recording it:
   whether the e-mail left cannot be known, so it goes to `review` for a person, never back to the queue.
   At most one message is `delivering` at any time, so a crash puts at most one in review.
4. Only failures known to have happened before the server accepted the message are retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, scoped_session

from plixo.accounts.models import Organization, Policy
from plixo.failpoints import failpoint
from plixo.integrations.mail.outcomes import (
    MailboxUnavailable,
    PermanentFailure,
    TransientFailure,
    Transport,
    UnknownOutcome,
)
from plixo.ledger.aging import local_today
from plixo.ledger.eligibility import STOP_LABELS, stopping_reasons_by_invoice
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.ledger.payer_links import LinkMaker, link_maker
from plixo.mail.models import SendingDomain
from plixo.mail.sending import advance_warmup, domain_of, todays_cap
from plixo.outreach.cadences import is_engine_message, listed_invoices, rerender
from plixo.outreach.models import CadenceStep, Message, MessageInvoice
from plixo.outreach.send_guard import (
    DAILY,
    TOUCHED,
    WEEK,
    CustomerFacts,
    DailyLoad,
    WaitingReply,
    daily_cap,
    decide,
    open_disputes,
    waiting_replies,
)
from plixo.tenancy import current_org_id
from plixo.values import header_safe, without_invisible

LEASE = dt.timedelta(minutes=5)
BATCH = 200
CHECK_EVERY = 25  # messages per batch load: stops and caps are at most this many sends old when checked
SEND_LOCK = 72_516  # advisory-lock namespace of claiming a workspace's sends
MAILBOX_PAUSE = dt.timedelta(minutes=5)  # a mailbox that cannot send is asked again after this
REPLY_RECHECK = dt.timedelta(minutes=10)  # an e-mail paused by a waiting reply looks again after this
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30))


def message_id_header(message: Message, domain: str) -> str:
    """The RFC 5322 Message-ID: derived from the idempotency key, so every attempt carries the same one, and keyed
    with the app's secret, so nobody can forge the ID of a reminder they did not receive (replies are matched by
    it)."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{message.org_id}:{message.idempotency_key}".encode(), hashlib.sha256).hexdigest()[:32]
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


def reconcile_stuck(session: Session, now: dt.datetime, resumable: bool = False) -> dict[str, int]:
    """The current workspace's messages whose sender died: back to the queue if never handed over, else
    flagged for review. With a transport that keeps drafts (`resumable`), one handed over as a draft goes back to
    the queue too: its next attempt checks the mailbox's Sent Items and the draft before sending anything."""
    expired = Message.claimed_until < now
    requeued = session.execute(
        update(Message).where(Message.status == "sending", expired)
        .values(status="scheduled", claimed_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    resumed = 0
    if resumable:
        resumed = session.execute(
            update(Message).where(Message.status == "delivering", expired, Message.provider_draft_id.is_not(None))
            .values(status="scheduled", scheduled_for=now, claimed_until=None, updated_at=now,
                    wait_reason="Checking the mailbox's Sent Items before sending again")
            .execution_options(synchronize_session=False)).rowcount
    flagged = session.execute(
        update(Message).where(Message.status == "delivering", expired)
        .values(status="review", last_error="The sender stopped while handing this e-mail over; check the "
                                            "mailbox's sent items before sending it again.", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return {"requeued": (requeued or 0) + (resumed or 0), "review": flagged or 0}


def claim_due(session: Session, now: dt.datetime, limit: int = BATCH) -> list[int]:
    """Lease up to `limit` of the current workspace's due messages to this sender; committed before any send.

    One sender works a workspace at a time (none is leased while another sender's lease runs): the daily cap
    and the touch rules are then counted by the sender that holds the lease, not raced by two.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(SEND_LOCK, current_org_id())))
    busy = session.scalar(select(Message.id).where(Message.status.in_(("sending", "delivering")),
                                                   Message.claimed_until >= now).limit(1))
    ids = [] if busy is not None else list(session.scalars(
        select(Message.id).where(Message.status == "scheduled", Message.scheduled_for <= now)
        .order_by(Message.scheduled_for, Message.id).limit(limit)))
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids), Message.status == "scheduled")
                        .values(status="sending", claimed_until=now + LEASE, attempts=Message.attempts + 1,
                                updated_at=now)
                        .execution_options(synchronize_session=False))
    session.commit()
    return ids


def send_leased(session: Session, ids: list[int], transport: Transport, now: dt.datetime,
                sender: tuple[str, str], deadline: float | None = None) -> Counter[str]:
    """Send the current workspace's leased messages `ids` in order, each only if it may still go; counts the
    outcomes (sent, cancelled, deferred, failed, retry, review, review_needed, skipped, mailbox_unavailable,
    released). Past `deadline` (time.monotonic) the messages not yet tried are given back for the next run."""
    outcomes: Counter[str] = Counter()
    with _kept_after_commit(session):
        for start in range(0, len(ids), CHECK_EVERY):
            batch = _SendBatch.load(session, ids[start:start + CHECK_EVERY], now, domain_of(sender[1]))
            outcomes["skipped"] += len(ids[start:start + CHECK_EVERY]) - len(batch.messages)
            for message in batch.messages:
                if deadline is not None and time.monotonic() > deadline:
                    # A slow mailbox must not run the job past its time limit, where a kill mid-hand-over
                    # would leave an e-mail whose fate is unknown.
                    outcomes["released"] += _release(session, ids, now)
                    session.commit()
                    return +outcomes
                outcome = batch.send(message, transport, sender)
                outcomes[outcome] += 1
                if outcome == "mailbox_unavailable":
                    outcomes["released"] += _release(session, ids, now)
                    session.commit()
                    return +outcomes
            session.commit()
    return +outcomes  # without the zero counts


def _release(session: Session, ids: list[int], now: dt.datetime) -> int:
    """Give back the leased messages not tried: the mailbox cannot take any now, and that is not their fault
    (their attempt is not counted)."""
    return session.execute(
        update(Message).where(Message.id.in_(ids), Message.status == "sending")
        .values(status="scheduled", claimed_until=None, attempts=Message.attempts - 1, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0


@contextmanager
def _kept_after_commit(session) -> Iterator[None]:
    # The leased messages are this sender's alone, and the batch reloads what it checks every CHECK_EVERY
    # messages: expiring everything at each commit would only reload them one query at a time.
    real = session.registry() if isinstance(session, scoped_session) else session
    before, real.expire_on_commit = real.expire_on_commit, False
    try:
        yield
    finally:
        real.expire_on_commit = before


@dataclass
class _SendBatch:
    """A few leased messages and everything their last checks need, loaded in one query per kind."""

    session: Session
    now: dt.datetime
    org: Organization
    policy: Policy
    today: dt.date
    messages: list[Message]
    listed_ids: dict[int, set[int]]  # message id -> invoice ids it lists
    stops: dict[int, list[str]]  # invoice id -> why outreach on it stopped (empty: it may go)
    contacts: dict[int, Contact]
    zones: dict[int, ZoneInfo]  # customer id -> the customer's time zone
    touches: dict[int, list[dt.datetime]]  # customer id -> e-mails that left recently
    daily: DailyLoad  # sent today against the policy's cap, or the sending domain's warmup cap while lower
    waiting: dict[int, WaitingReply]  # customer id -> its reply nobody has handled yet
    disputes: dict[int, list[str]]  # customer id -> its invoices in open dispute
    steps: dict[int, CadenceStep]
    listed: dict[int, list]  # engine message id -> its invoices as they are now, for re-rendering
    links: LinkMaker
    sender_domain: str
    # Engine messages whose fresh rendering lacks a value (a {pay_link} once Stripe is gone): back to review.
    render_problems: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, ids: list[int], now: dt.datetime, sender_domain: str) -> _SendBatch:
        org = session.get(Organization, current_org_id())
        today = local_today(org.time_zone, now)
        messages = list(session.scalars(select(Message).where(Message.id.in_(ids), Message.status == "sending")
                                        .order_by(Message.scheduled_for, Message.id)
                                        .execution_options(populate_existing=True)))
        message_ids = [m.id for m in messages]
        listed_ids: dict[int, set[int]] = defaultdict(set)
        for message_id, invoice_id in session.execute(select(MessageInvoice.message_id, MessageInvoice.invoice_id)
                                                      .where(MessageInvoice.message_id.in_(message_ids))):
            listed_ids[message_id].add(invoice_id)
        for m in messages:
            if m.invoice_id:
                listed_ids[m.id].add(m.invoice_id)
        customer_ids = {m.customer_id for m in messages}
        engine_made = [m for m in messages if is_engine_message(m)]
        policy = session.scalar(select(Policy))
        sending = session.scalar(select(SendingDomain).where(SendingDomain.domain == sender_domain))
        if sending is not None:
            advance_warmup(session, sending, today, now, daily_cap(policy))
        return cls(
            session=session, now=now, org=org, policy=policy, today=today,
            messages=messages, listed_ids=listed_ids,
            stops=stopping_reasons_by_invoice(session, set().union(*listed_ids.values()), today),
            contacts={c.id: c for c in session.scalars(
                select(Contact).where(Contact.id.in_({m.contact_id for m in messages if m.contact_id})))},
            zones={customer_id: ZoneInfo(zone or org.time_zone) for customer_id, zone in session.execute(
                select(Customer.id, Customer.time_zone).where(Customer.id.in_(customer_ids)))},
            touches=_recent_touches(session, customer_ids, now - max(WEEK, dt.timedelta(hours=policy.min_gap_hours))),
            daily=_todays_load(session, org, now, sending, daily_cap(policy), today),
            waiting=waiting_replies(session, org.id, customer_ids),
            disputes=open_disputes(session, org.id, customer_ids),
            steps={s.id: s for s in session.scalars(
                select(CadenceStep).where(CadenceStep.id.in_({m.cadence_step_id for m in engine_made})))},
            listed=listed_invoices(session, org.id, [m.id for m in engine_made]),
            links=link_maker(session, org.id),
            sender_domain=sender_domain,
        )

    def send(self, message: Message, transport: Transport, sender: tuple[str, str]) -> str:
        """Send one message if it may still go. Its outcome is committed with the next hand-over or at the end
        of the batch (send_leased), whichever comes first."""
        failpoint("outbox_before_handover")
        stop = self._stop_reason(message)
        if stop:
            message.status, message.last_error = "cancelled", stop
            return "cancelled"
        problems = self.render_problems.pop(message.id, None)
        if problems:
            # Never send a literal merge field: a person fixes what is missing and sends it.
            message.status, message.scheduled_for = "draft", None
            message.wait_reason = ("Needs review: " + " ".join(problems))[:200]
            return "review_needed"
        review = self._needs_review(message)
        if review:  # the payer disputed since Autopilot wrote this e-mail: a person looks again
            message.status, message.scheduled_for = "draft", None
            message.wait_reason = f"Needs review: {review}"[:200]
            return "review_needed"
        zone = self.zones[message.customer_id]
        waiting = self.waiting.get(message.customer_id)
        if waiting is not None:  # paused, not dropped: it goes once someone has handled the reply
            message.status, message.scheduled_for = "scheduled", self.now + REPLY_RECHECK
            message.wait_reason = f"Paused: {waiting.describe(ZoneInfo(self.org.time_zone))}"[:200]
            message.attempts -= 1
            return "deferred"
        wait = self._wait_reason(message, zone)
        if wait is not None:
            reason, moment = wait
            message.status, message.scheduled_for, message.wait_reason = "scheduled", moment, reason
            message.attempts -= 1  # waiting its turn is not a failed attempt: retries stay for real errors
            return "deferred"
        email = _email_of(message, self.org, sender, self.now)
        message.message_id_header, message.status = email["Message-ID"], "delivering"
        message.sender_domain = self.sender_domain
        prior_draft = message.provider_draft_id
        if getattr(transport, "keeps_drafts", False):
            message.provider_draft_id = prior_draft or ""  # "" : a draft may be made; none is known yet
        # One commit records the outcomes since the last hand-over and this one: from here on a crash means
        # "outcome unknown" for this message, never "send again".
        self.session.commit()
        failpoint("outbox_before_send")
        outcome = self._hand_over(message, email, transport, prior_draft)
        if outcome in ("sent", "review"):  # it left, or may have: it counts as a touch and toward the cap
            self.daily.add(self.now)
            self.touches[message.customer_id].append(self.now)
        return outcome

    def _hand_over(self, message: Message, email: EmailMessage, transport: Transport,
                   prior_draft: str | None) -> str:
        try:
            if getattr(transport, "keeps_drafts", False):
                provider_id = transport.send(email, draft_id=prior_draft,
                                             keep_draft=lambda draft: self._keep_draft(message, draft))
            else:
                provider_id = transport.send(email)
        except PermanentFailure as error:
            message.status, message.last_error = "failed", str(error)[:2000]
            if error.bounce:
                message.bounced_at = self.now
            if error.bounce and message.contact_id in self.contacts:
                contact = self.contacts[message.contact_id]
                contact.bounce_kind, contact.bounced_at = "hard", self.now
            return "failed"
        except MailboxUnavailable as error:
            message.status, message.claimed_until, message.attempts = "scheduled", None, message.attempts - 1
            message.scheduled_for = self.now + MAILBOX_PAUSE
            message.wait_reason, message.last_error = "Waiting for the mailbox", str(error)[:2000]
            return "mailbox_unavailable"
        except TransientFailure as error:
            return _retry_later(message, self.now, str(error))
        except UnknownOutcome as error:
            message.status, message.last_error = "review", f"Outcome unknown: {error}"[:2000]
            return "review"
        failpoint("outbox_after_send")
        message.status, message.sent_at, message.provider_message_id = "sent", self.now, provider_id
        message.claimed_until = None
        return "sent"

    def _keep_draft(self, message: Message, draft_id: str) -> None:
        """Record the provider's draft before it is sent: from then on a retry can find out what became of it."""
        message.provider_draft_id = draft_id
        self.session.commit()
        failpoint("outbox_after_draft")

    def _stop_reason(self, message: Message) -> str | None:
        """Why the message must not go at all any more (a payment, dispute, hold or opt-out since scheduling).

        An e-mail the engine consolidated goes on for the invoices still eligible, re-rendered without the
        others; an e-mail a person wrote goes as written or not at all.
        """
        invoice_ids = self.listed_ids.get(message.id, set())
        stopped = {invoice_id: "; ".join(reasons) for invoice_id in sorted(invoice_ids)
                   if (reasons := self._stops_of(message, invoice_id))}
        engine_made = is_engine_message(message)
        if stopped and not (engine_made and len(stopped) < len(invoice_ids)):
            return next(iter(stopped.values()))
        if engine_made:
            problems = rerender(self.session, message, self.org, self.steps.get(message.cadence_step_id),
                                self.listed.get(message.id, []), exclude=set(stopped), today=self.today,
                                links=self.links)
            if problems:
                self.render_problems[message.id] = problems
        return _recipient_stop_reason(self.contacts.get(message.contact_id), self.today)

    def _stops_of(self, message: Message, invoice_id: int) -> list[str]:
        """What stops outreach on the invoice; a dispute's own correspondence is not stopped by the dispute (only by
        the invoice being paid, written off or closed since). Such messages are rare: one read each is cheap."""
        reasons = self.stops.get(invoice_id, ["Invoice not found"])
        if message.dispute_id is not None and STOP_LABELS["not_open"] in reasons and self.session.scalar(
                select(Invoice.status).where(Invoice.id == invoice_id)) == "disputed":
            reasons = [reason for reason in reasons if reason != STOP_LABELS["not_open"]]
        return reasons

    def _wait_reason(self, message: Message, zone: ZoneInfo) -> tuple[str, dt.datetime] | None:
        """When the message may not go yet (the send guard, once more, on what has left since it was planned):
        why, and from when it may."""
        verdict = decide(self.policy, self.daily, CustomerFacts(touches=self.touches[message.customer_id]), zone,
                         self.now, automated=False, business_hours=is_engine_message(message),
                         waive_touch_rules=message.guard_override is not None,
                         explain=False)
        if verdict.stopped:
            return verdict.reason, self.now + dt.timedelta(days=1)
        return (verdict.reason, verdict.moment) if verdict.waits else None

    def _needs_review(self, message: Message) -> str | None:
        """What happened since Autopilot wrote the e-mail that a person must see before it goes."""
        disputed = self.disputes.get(message.customer_id)
        if disputed and is_engine_message(message):
            return f"{', '.join(disputed[:3])} disputed; Autopilot leaves this customer to a person."
        return None


def _todays_load(session: Session, org: Organization, now: dt.datetime, sending: SendingDomain | None,
                 policy_cap: int, today: dt.date) -> DailyLoad:
    """What left today, against the policy's cap or, while it is lower, the sending domain's warmup cap."""
    limit = todays_cap(sending, policy_cap)
    known = Counter({today: session.scalar(sent_today_count(org, now)) or 0})
    if sending is not None and limit < policy_cap:
        return DailyLoad(limit, ZoneInfo(org.time_zone), "Warmup cap", known=known,
                         reached=f"Warmup cap of {limit} for {sending.domain} reached")
    return DailyLoad(limit, ZoneInfo(org.time_zone), DAILY, known=known)


def _recipient_stop_reason(contact: Contact | None, today: dt.date) -> str | None:
    if contact is None or not contact.email:
        return "No recipient."
    if contact.opted_out_at is not None:
        return "The recipient opted out."
    if contact.bounce_kind == "hard":
        return "The recipient's address bounced."
    if contact.suppressed_until is not None and contact.suppressed_until > today:
        return f"The recipient is suppressed until {contact.suppressed_until:%d %b %Y}."
    return None


def _recent_touches(session: Session, customer_ids: set[int], since: dt.datetime) -> dict[int, list[dt.datetime]]:
    """Each customer's e-mails that left (or may have) since `since`: what the touch rules look back on."""
    when = func.coalesce(Message.sent_at, Message.updated_at)
    touches: dict[int, list[dt.datetime]] = defaultdict(list)
    for customer_id, moment in session.execute(select(Message.customer_id, when).where(
            Message.customer_id.in_(customer_ids), Message.status.in_(TOUCHED), when >= since)):
        touches[customer_id].append(moment)
    return touches


def _retry_later(message: Message, now: dt.datetime, error: str) -> str:
    if message.attempts > len(RETRY_DELAYS) and message.provider_draft_id:
        # A draft was handed to the mailbox: it may have been sent by one of the attempts.
        message.status = "review"
        message.last_error = (f"Gave up after {message.attempts} attempts; check the mailbox's Sent Items before "
                              f"sending it again: {error}")[:2000]
        return "review"
    if message.attempts > len(RETRY_DELAYS):
        message.status, message.last_error = "failed", f"Gave up after {message.attempts} attempts: {error}"[:2000]
        return "failed"
    message.status = "scheduled"
    message.scheduled_for = now + RETRY_DELAYS[message.attempts - 1]
    message.wait_reason, message.last_error = "Retrying after a temporary error", error[:2000]
    return "retry"


def _email_of(message: Message, org: Organization, sender: tuple[str, str], now: dt.datetime) -> EmailMessage:
    name, address = sender
    email = EmailMessage()
    email["From"] = formataddr((name or org.name, address))
    email["To"] = message.to_email
    email["Subject"] = header_safe(message.subject)  # never a control or bidi character in a header
    email["Date"] = format_datetime(now)
    # A retry keeps the ID the first attempt went out with: the provider's Sent Items are searched by it.
    email["Message-ID"] = message.message_id_header or message_id_header(message, address.rsplit("@", 1)[-1])
    email["X-Plixo-Message"] = str(message.id)
    email.set_content(without_invisible(message.body))
    return email
