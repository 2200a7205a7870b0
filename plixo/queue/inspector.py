"""What the inspector shows for one invoice: context, guardrails, next steps, timeline and the draft."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import BigInteger, String, and_, bindparam, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.approvals.models import Approval
from plixo.audit import AuditEvent
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.holds.models import Hold
from plixo.ledger.aging import aging_bucket, days_past_due, local_today
from plixo.ledger.contacts import first_reachable
from plixo.ledger.eligibility import stopping_reasons
from plixo.ledger.models import Contact, Invoice, Payment, PaymentApplication
from plixo.ledger.payer_links import link_maker
from plixo.money import format_money
from plixo.notes.models import Note
from plixo.outreach import llm
from plixo.outreach.drafting import (
    TEMPLATE_LABELS,
    DraftContext,
    Moment,
    Seed,
    choose_template,
    choose_tone,
    draft_email,
    first_name,
    persona_of,
    promise_state,
)
from plixo.outreach.merge_fields import Preview, available_links, latest_promise, merge_values, preview
from plixo.outreach.models import Message
from plixo.outreach.send_guard import GRACE, PLANNED, TOUCHED, Rule, Verdict
from plixo.outreach.sends import guard_for
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, Promise
from plixo.replies.models import Reply
from plixo.security import ROLES

TIMELINE_ITEMS = 30
REPLY_LABELS = {"dispute": "dispute", "promise": "promise to pay", "already_paid": "says already paid",
                "invoice_copy": "asks for a copy", "out_of_office": "out of office", "unsubscribe": "unsubscribe",
                "other": "to read"}
HOLD_TITLES = {"hold": "Hold placed", "suppression": "Contact suppressed", "opt_out": "Opted out of reminders",
               "shadow": "Escalated to Shadow Mode"}


@dataclass(frozen=True)
class Step:
    action: str
    reason: str
    template: str = ""  # the e-mail template this step calls for: the one the compose box starts from


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    kind: str  # message, payment, note, audit
    title: str
    detail: str = ""
    status: str = ""
    wait_reason: str = ""
    ref: int | None = None  # a message's id, for cancelling it


@dataclass
class Inspection:
    invoice: Invoice
    bucket: str
    days_past_due: int
    why: str
    exposure: dict[str, int]
    contacts: list[Contact]
    recipient: Contact | None
    guardrails: list[Rule]
    verdict: Verdict  # the send guard's answer now: what S and Send will do
    steps: list[Step]
    promises: list[Promise]
    suggested_promise: Reply | None  # a reply that promised payment, not yet confirmed as a promise
    plans: list[PaymentPlan]
    disputes: list[Dispute]
    timeline: list[TimelineItem]
    stops: list[str]
    draft: Message | None
    subject: str
    body: str
    template: str
    tone: str
    preview: Preview
    counts: OutreachCounts | None = None
    merge_values: dict[str, str] = field(default_factory=dict)
    assistant: llm.Rewrite | None = None  # what the writing assistant made of the draft, when it was asked
    suggested_by: str | None = None  # "Jake Morrison (Sales)" when the draft shown was suggested for review

    @property
    def waiting(self) -> TimelineItem | None:
        """An e-mail about this invoice that waits for a later moment: S will not stack another behind it."""
        return next((t for t in self.scheduled if t.at > self.verdict.now + GRACE), None)

    @property
    def scheduled(self) -> list[TimelineItem]:
        """E-mails waiting in the outbox, soonest first (for the countdowns)."""
        return sorted((t for t in self.timeline if t.kind == "message" and t.status == "scheduled"),
                      key=lambda t: t.at)


# The inspector's queries are built once with placeholders (see plixo.tenancy._in_workspace): J/K runs them
# many times a minute, and building them anew cost more than running them.
ORG, INVOICE, CUSTOMER = bindparam("org_id"), bindparam("invoice_id"), bindparam("customer_id")


@cache
def _policy_query():
    return select(Policy).where(Policy.org_id == ORG)


@cache
def _promises_query():
    return (select(Promise).where(Promise.org_id == ORG, Promise.invoice_id == INVOICE)
            .order_by(Promise.promised_date.desc()).limit(5))


@cache
def _contacts_query():
    return (select(Contact).where(Contact.org_id == ORG, Contact.customer_id == CUSTOMER)
            .order_by(Contact.is_primary.desc(), Contact.id))


@cache
def _draft_query():
    return (select(Message).where(Message.org_id == ORG, Message.invoice_id == INVOICE, Message.status == "draft")
            .order_by(Message.id.desc()).limit(1))


def inspect(session: Session, org: Organization, invoice: Invoice, user: User, now: dt.datetime,
            template: str | None = None, sender_role: str | None = None, rewrite: bool = False) -> Inspection:
    """Everything the inspector panel shows for `invoice`, as seen by `user` (signing as `sender_role`) at `now`.

    `rewrite` lets the writing assistant rework a fresh draft: only for the compose box a person reads, never
    for a preview or a send, which need the merge values alone.
    """
    today = local_today(org.time_zone, now)
    keys = {"org_id": org.id, "invoice_id": invoice.id, "customer_id": invoice.customer_id}
    policy = session.scalar(_policy_query(), keys)
    overdue = days_past_due(invoice.due_date, today)
    promises = list(session.scalars(_promises_query(), keys))
    contacts = list(session.scalars(_contacts_query(), keys))
    recipient = first_reachable(contacts, today)
    draft = session.scalar(_draft_query(), keys)
    counts = outreach_counts(session, org, invoice, now)
    chosen = template if template in TEMPLATE_LABELS else choose_template(_moment(counts, promises, overdue, today))
    tone = choose_tone(policy.tone, overdue, invoice.customer.risk_tier)
    values = merge_values(invoice, today, user.name, link_maker(session, org.id), promises)
    assistant, suggested_by = None, None
    if draft is not None and chosen != template:  # a saved draft wins unless a template was picked
        subject, body = draft.subject, draft.body
        suggested_by = _suggested_by(session, org.id, draft)
    else:
        subject, body = draft_email(DraftContext(
            purpose=chosen, tone=tone, bucket=aging_bucket(invoice.due_date, today),
            promise=promise_state(latest_promise(promises), today),
            first_name=first_name(recipient.name if recipient else None), persona=persona_of(sender_role),
            links=available_links(values), partly_disputed=bool(values.get("disputed_amount")),
            **_history(session, keys, invoice, counts)))
        assistant = llm.rewrite(body, tone) if rewrite else None
        body = assistant.body if assistant else body
    stops = stopping_reasons(session, invoice.id, today)
    verdict = guard_for(session, org, invoice, now, policy=policy, stops=stops)
    return Inspection(
        invoice=invoice, bucket=aging_bucket(invoice.due_date, today), days_past_due=overdue,
        why=(invoice.priority_detail or {}).get("why", ""),
        exposure=_exposure(session, keys), contacts=contacts, recipient=recipient,
        guardrails=_guardrails(verdict, counts, recipient), verdict=verdict,
        steps=_next_steps(counts, promises, contacts, recipient, overdue, today, stops),
        promises=promises, suggested_promise=_suggested_promise(session, keys, promises),
        plans=_plans(session, keys), disputes=_disputes(session, keys),
        timeline=_timeline(session, keys),
        stops=stops, draft=draft, subject=subject, body=body, template=chosen, tone=tone,
        preview=preview(subject, body, values), counts=counts, merge_values=values, assistant=assistant,
        suggested_by=suggested_by,
    )


def _suggested_by(session: Session, org_id: int, draft: Message) -> str | None:
    """Who suggested the draft for review (Sales, CSM), with their role; None for the collector's own draft."""
    if draft.suggested_by_id is None:
        return None
    row = session.execute(select(User.name, Membership.role).outerjoin(
        Membership, (Membership.user_id == User.id) & (Membership.org_id == org_id))
        .where(User.id == draft.suggested_by_id)).first()
    if row is None:
        return "a teammate"
    return f"{row.name} ({ROLES[row.role]})" if row.role in ROLES else row.name


def _history(session: Session, keys: dict, invoice: Invoice, counts: OutreachCounts) -> dict:
    """What the customer's past adds to a draft: kept promises, their unanswered reply, our earlier e-mails.

    The phrasings turn with every e-mail the customer was sent, so the next one never reads like the last.
    """
    return {"kept_promises": counts.promises_kept > 0 and counts.promises_broken == 0,
            "reply": session.scalar(_unanswered_reply_query(), keys) or "", "reminded": counts.invoice_emails > 0,
            "seed": Seed(f"customer:{invoice.customer_id}", counts.customer_emails)}


@cache
def _exposure_query():
    return (select(Invoice.currency, func.sum(Invoice.balance_minor))
            .where(Invoice.org_id == ORG, Invoice.customer_id == CUSTOMER, Invoice.status.in_(("open", "disputed")))
            .group_by(Invoice.currency))


def _exposure(session: Session, keys: dict) -> dict[str, int]:
    return {currency: int(total) for currency, total in session.execute(_exposure_query(), keys)}


@cache
def _plans_query():
    return (select(PaymentPlan).join(
        PaymentPlanInvoice, (PaymentPlanInvoice.plan_id == PaymentPlan.id) & (PaymentPlanInvoice.org_id == ORG))
        .where(PaymentPlan.org_id == ORG, PaymentPlanInvoice.invoice_id == INVOICE)
        .order_by(PaymentPlan.id.desc()))


def _plans(session: Session, keys: dict) -> list[PaymentPlan]:
    return list(session.scalars(_plans_query(), keys))


@cache
def _suggested_promise_query():
    return (select(Reply).where(Reply.org_id == ORG, Reply.invoice_id == INVOICE, Reply.label == "promise")
            .order_by(Reply.received_at.desc()).limit(1))


@cache
def _unanswered_reply_query():
    # The payer's latest reply about this invoice (or naming none) that no e-mail of ours has followed: the
    # draft answers it. Once we have written since, it has been answered.
    answered = exists().where(Message.org_id == ORG, Message.customer_id == CUSTOMER,
                              Message.sent_at > Reply.received_at)
    return (select(Reply.label)
            .where(Reply.org_id == ORG, or_(Reply.invoice_id == INVOICE,
                                            and_(Reply.invoice_id.is_(None), Reply.customer_id == CUSTOMER)),
                   ~answered)
            .order_by(Reply.received_at.desc()).limit(1))


def _suggested_promise(session: Session, keys: dict, promises: list[Promise]) -> Reply | None:
    """The latest reply promising payment, unless a promise was logged after it (it was confirmed or replaced)."""
    reply = session.scalar(_suggested_promise_query(), keys)
    if reply is None or any(p.created_at >= reply.received_at for p in promises):
        return None
    return reply


@cache
def _disputes_query():
    return (select(Dispute).where(Dispute.org_id == ORG, Dispute.invoice_id == INVOICE)
            .options(selectinload(Dispute.evidence)).order_by(Dispute.opened_at.desc()))


def _disputes(session: Session, keys: dict) -> list[Dispute]:
    return list(session.scalars(_disputes_query(), keys))


@dataclass(frozen=True)
class OutreachCounts:
    pending_approvals: int
    customer_disputes: int
    promises_kept: int
    promises_broken: int
    customer_emails: int = 0  # ever sent or planned to the customer: turns the drafter's phrasings
    invoice_emails: int = 0  # sent about this invoice: a draft follows up on them

    @property
    def adherence(self) -> float | None:
        """Share of the customer's resolved promises that were kept."""
        resolved = self.promises_kept + self.promises_broken
        return self.promises_kept / resolved if resolved else None


@cache
def _counts_query():
    return select(
        select(func.count()).select_from(Approval).where(
            Approval.org_id == ORG, Approval.status == "pending",
            or_(and_(Approval.subject_type == "Invoice", Approval.subject_id == INVOICE),
                and_(Approval.subject_type == "Customer", Approval.subject_id == CUSTOMER)))
        .scalar_subquery(),
        select(func.count()).select_from(Dispute).where(
            Dispute.org_id == ORG, Dispute.customer_id == CUSTOMER, Dispute.status.in_(OPEN_DISPUTE_STATUSES))
        .scalar_subquery(),
        *(select(func.count()).select_from(Promise).where(
            Promise.org_id == ORG, Promise.customer_id == CUSTOMER, Promise.status == status)
          .scalar_subquery() for status in ("kept", "broken")),
        select(func.count()).select_from(Message).where(
            Message.org_id == ORG, Message.customer_id == CUSTOMER, Message.status.in_(TOUCHED + PLANNED))
        .scalar_subquery(),
        select(func.count()).select_from(Message).where(
            Message.org_id == ORG, Message.invoice_id == INVOICE, Message.status.in_(TOUCHED))
        .scalar_subquery(),
    )


def outreach_counts(session: Session, org: Organization, invoice: Invoice, now: dt.datetime) -> OutreachCounts:
    """The figures the guardrails and next steps weigh, in one round trip."""
    row = session.execute(_counts_query(), {
        "org_id": org.id, "invoice_id": invoice.id, "customer_id": invoice.customer_id}).one()
    return OutreachCounts(*(value or 0 for value in row))


def _guardrails(verdict: Verdict, counts: OutreachCounts, recipient: Contact | None) -> list[Rule]:
    """The send guard's rules, with the recipient and what awaits a decision."""
    rules = list(verdict.rules)
    if counts.pending_approvals:
        rules.append(Rule("Approval", "warn", f"{counts.pending_approvals} request(s) awaiting approval."))
    if recipient is None:
        rules.append(Rule("Contact", "stop", "No deliverable, unsuppressed contact e-mail."))
    else:
        rules.append(Rule("Contact", "ok", f"Sends to {recipient.email}."))
    return rules


def _moment(counts: OutreachCounts, promises: list[Promise], overdue: int, today: dt.date) -> Moment:
    return Moment(overdue, promise_state(latest_promise(promises), today), counts.customer_disputes > 0)


def _next_steps(counts: OutreachCounts, promises, contacts, recipient, overdue, today, stops) -> list[Step]:
    """What to do next: the contact's problems first, then the e-mail `choose_template` picks for the moment
    (the same choice pre-selects the compose box's template, so the two never disagree)."""
    if stops:
        return [Step("No outreach", "; ".join(stops) + ".")]
    steps = []
    if recipient is None:
        steps.append(Step("Fix the contact", "No contact can receive e-mail: add or correct an address."))
    elif any(c.bounce_kind for c in contacts):
        steps.append(Step("Check the contact", "An address for this customer bounced recently."))
    template = choose_template(_moment(counts, promises, overdue, today))
    steps.append(Step(*_email_step(template, counts, latest_promise(promises), overdue, today), template))
    return steps


def _email_step(template: str, counts: OutreachCounts, promise: Promise | None, overdue: int,
                today: dt.date) -> tuple[str, str]:
    """The recommended step's action and reason for the template chosen."""
    if template == "dispute_acknowledgement":
        return ("Read the open dispute first", f"{counts.customer_disputes} open dispute(s) on this customer: the "
                                               "draft stays neutral and asks whether this invoice is affected.")
    if template == "broken_promise":
        promised = f"{format_money(promise.amount_minor, promise.currency)} promised for {promise.promised_date:%d %b}"
        if promise.status == "broken":
            return "Call the customer", f"The promise due {promise.promised_date:%d %b} was broken ({promised})."
        return "Follow up on the missed promise", f"{promised} has not arrived."
    if template == "promise_follow_up":
        promised = f"{format_money(promise.amount_minor, promise.currency)} promised for {promise.promised_date:%d %b}"
        if (promise.promised_date - today).days <= 3:
            return "Send a promise follow-up", f"{promised}."
        return "Wait for the promised payment", f"{promised}; no escalation while the promise stands."
    if template == "payment_plan":
        return "Offer a payment plan", f"{overdue} days overdue: a plan may recover more than chasing."
    if template == "escalation":
        return "Escalate firmly", f"{overdue} days past due with no promise or dispute on record."
    if template == "reminder":
        return "Send a reminder", f"{overdue} days past due with no promise on record."
    return "Nothing urgent", "Not yet due; a courtesy reminder can go before the due date."


@cache
def _timeline_query():
    no_amount, no_text = literal(None, BigInteger), literal("", String)
    parts = [
        select(func.coalesce(Message.sent_at, Message.scheduled_for, Message.created_at).label("at"),
               literal("message").label("kind"), Message.status.label("a"), Message.subject.label("b"),
               func.coalesce(Message.to_email, "").label("c"), func.coalesce(Message.wait_reason, "").label("d"),
               no_amount.label("amount"), no_text.label("currency"), Message.id.label("ref"))
        .where(Message.org_id == ORG, Message.invoice_id == INVOICE),
        select(Payment.received_at, literal("payment"), no_text, no_text, no_text, no_text,
               PaymentApplication.amount_minor, Payment.currency, no_amount)
        .join(Payment, and_(Payment.id == PaymentApplication.payment_id, Payment.org_id == ORG))
        .where(PaymentApplication.org_id == ORG, PaymentApplication.invoice_id == INVOICE),
        select(Note.created_at, literal("note"), no_text, Note.body, no_text, no_text, no_amount, no_text, no_amount)
        .where(Note.org_id == ORG, Note.customer_id == CUSTOMER),
        # The invoice's own holds, and the customer-wide ones (suppression, opt-out) that stop it as well.
        select(Hold.created_at, literal("hold"), Hold.kind, Hold.reason, no_text, no_text, no_amount, no_text,
               no_amount)
        .where(Hold.org_id == ORG, or_(Hold.invoice_id == INVOICE,
                                       and_(Hold.invoice_id.is_(None), Hold.customer_id == CUSTOMER))),
        select(AuditEvent.created_at, literal("audit"), AuditEvent.action, AuditEvent.actor_label, AuditEvent.reason,
               no_text, no_amount, no_text, no_amount)
        .where(AuditEvent.org_id == ORG, AuditEvent.subject_type == "Invoice", AuditEvent.subject_id == INVOICE),
        # Replies about this invoice, and the customer's replies that name no invoice.
        select(Reply.received_at, literal("reply"), Reply.label, Reply.from_email, Reply.body, Reply.outcome,
               no_amount, no_text, no_amount)
        .where(Reply.org_id == ORG, or_(Reply.invoice_id == INVOICE,
                                        and_(Reply.invoice_id.is_(None), Reply.customer_id == CUSTOMER))),
    ]
    timeline = union_all(*parts).subquery("timeline")
    return select(timeline).order_by(timeline.c.at.desc()).limit(TIMELINE_ITEMS)


def _timeline(session: Session, keys: dict) -> list[TimelineItem]:
    """Messages, payments, notes, holds and audit events of the invoice, newest first, in one query."""
    return [_timeline_item(row) for row in session.execute(_timeline_query(), keys)]


def _timeline_item(row) -> TimelineItem:
    if row.kind == "message":
        return TimelineItem(row.at, "message", f"E-mail {row.a}: {row.b}", row.c, status=row.a, wait_reason=row.d,
                            ref=row.ref)
    if row.kind == "payment":
        return TimelineItem(row.at, "payment", f"Payment of {format_money(row.amount, row.currency)} applied")
    if row.kind == "note":
        return TimelineItem(row.at, "note", "Note", row.b)
    if row.kind == "reply":
        return TimelineItem(row.at, "reply", f"Reply from {row.b} · {REPLY_LABELS.get(row.a, row.a)}",
                            f"{row.d} {row.c}".strip())
    if row.kind == "hold":
        return TimelineItem(row.at, "audit", HOLD_TITLES.get(row.a, f"{row.a.replace('_', ' ').capitalize()} placed"),
                            row.b)
    detail = f"{row.b}: {row.c}" if row.c else row.b
    return TimelineItem(row.at, "audit", row.a.replace("_", " "), detail)
