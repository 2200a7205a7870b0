"""Cadences (ordered e-mail steps for a segment) and the Autopilot engine that turns them into messages.

The engine is idempotent by construction: every message it creates carries the key
`cadence:<step id>:invoice:<invoice id>`, unique per workspace, so a second tick creates nothing more and
a tick racing another fails on the unique key instead of writing a second message. Shadow cadences,
Shadow segments and invoices escalated to Shadow get drafts for review; Autopilot gets scheduled sends at
the next moment the guardrails allow.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, false, func, insert, or_, select, text
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.accounts.service import policy_of
from plixo.actions import ActionError
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.holds.models import Hold
from plixo.ledger.aging import aging_bucket, days_past_due, local_today
from plixo.ledger.disputed import undisputed_balance_sql
from plixo.ledger.eligibility import eligible_clause
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.ledger.payer_links import LinkMaker, link_maker
from plixo.outreach.drafting import DraftContext, Moment, Seed, choose_template, draft_email
from plixo.outreach.invoice_lists import list_values, pluralised
from plixo.outreach.merge_fields import (
    DATE_FORMAT,
    MERGE_FIELDS,
    available_links,
    fill,
    invoice_merge_values,
    signed,
)
from plixo.outreach.models import TONES, Cadence, CadenceStep, Message, MessageInvoice, Segment
from plixo.outreach.planner import SendPlanner
from plixo.outreach.segments import SegmentRules, segment_clause, sending_blockers
from plixo.promises.models import Promise
from plixo.values import typed_name

ANCHORS = ("due_date", "previous_touch")
LAUNCH_STATUSES = ("shadow", "active")
MAX_STEPS = 12
SHADOW_TRIAL = dt.timedelta(days=14)
TICK_LOCK = 72_515  # advisory-lock namespace of the engine tick
ANALYZE_AFTER = 1_000  # messages created in one tick
# status -> the statuses a person may move a cadence to from there
TRANSITIONS = {"shadow": ("active", "paused", "archived"), "active": ("paused", "archived"),
               "paused": ("shadow", "active", "archived"), "archived": ()}
STATUS_LABELS = {"shadow": "Shadow", "active": "Active", "paused": "Paused", "archived": "Archived"}


class CadenceError(ActionError):
    """Steps or a status change a cadence cannot take, with the field to show the message on."""


@dataclass(frozen=True)
class StepInput:
    offset_days: int
    anchor: str
    subject: str
    body: str
    tone_override: str | None = None


def check_steps(steps: list[StepInput]) -> None:
    """Refuse a sequence that could not run: none, unknown merge fields, offsets out of order."""
    if not steps:
        raise CadenceError("Add at least one e-mail step.", "steps")
    if len(steps) > MAX_STEPS:
        raise CadenceError(f"A cadence has at most {MAX_STEPS} steps.", "steps")
    sample = dict.fromkeys(MERGE_FIELDS, "x")
    previous_due_offset = None
    for number, step in enumerate(steps, start=1):
        if step.anchor not in ANCHORS:
            raise CadenceError(f"Step {number}: choose what the offset counts from.", "steps")
        if step.tone_override not in (None, *TONES):
            raise CadenceError(f"Step {number}: choose a tone from the list.", "steps")
        if not step.subject.strip() or not step.body.strip():
            raise CadenceError(f"Step {number}: write a subject and a message.", "steps")
        unknown = fill(step.subject, sample).unknown + fill(step.body, sample).unknown
        if unknown:
            raise CadenceError(f"Step {number}: unknown merge field {{{unknown[0]}}}. Use one of "
                               f"{', '.join('{' + f + '}' for f in MERGE_FIELDS)}.", "steps")
        if step.anchor == "previous_touch":
            if number == 1:
                raise CadenceError("Step 1 has no previous touch: count it from the due date.", "steps")
            if step.offset_days < 1:
                raise CadenceError(f"Step {number}: wait at least one day after the previous touch.", "steps")
        else:
            if previous_due_offset is not None and step.offset_days <= previous_due_offset:
                raise CadenceError(f"Step {number} comes on or before the step above it: offsets from the due "
                                   "date must increase.", "steps")
            previous_due_offset = step.offset_days


def create_cadence(session: Session, org: Organization, user: User, name: str, segment_id: int | None,
                   steps: list[StepInput], launch: str, now: dt.datetime) -> Cadence:
    """Create and launch a cadence in Shadow (drafts for review, 14 days side by side) or Active."""
    name = typed_name(name)
    if not name or len(name) > 120:
        raise CadenceError("Name the cadence (at most 120 characters).", "name")
    if session.scalar(select(Cadence.id).where(Cadence.org_id == org.id, Cadence.name == name)) is not None:
        raise CadenceError(f"A cadence called “{name}” already exists.", "name")
    segment = session.get(Segment, segment_id) if segment_id else None
    if segment is None or segment.org_id != org.id:
        raise CadenceError("Choose the segment it runs on.", "segment_id")
    if launch not in LAUNCH_STATUSES:
        raise CadenceError("Launch in Shadow Mode or Active.", "launch")
    check_steps(steps)
    cadence = Cadence(org_id=org.id, name=name, segment_id=segment.id, status=launch, created_by_id=user.id,
                      shadow_started_at=now if launch == "shadow" else None,
                      activated_at=now if launch == "active" else None)
    session.add(cadence)
    session.flush()
    session.add_all(CadenceStep(org_id=org.id, cadence_id=cadence.id, position=n, offset_days=s.offset_days,
                                anchor=s.anchor, subject=s.subject.strip(), body=s.body.strip(),
                                tone_override=s.tone_override) for n, s in enumerate(steps, start=1))
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="cadences.launched", subject=cadence,
                 after={"name": name, "segment": segment.name, "status": launch, "steps": len(steps)})
    return cadence


def trial_complete(cadence: Cadence, now: dt.datetime) -> bool:
    """Whether a Shadow cadence has run its 14 days side by side and should be offered for activation."""
    return (cadence.status == "shadow" and cadence.shadow_started_at is not None
            and now - cadence.shadow_started_at >= SHADOW_TRIAL)


def shadow_ends_at(cadence: Cadence) -> dt.datetime | None:
    """When the cadence's current Shadow run has lasted its 14 days; None when it has no Shadow run to finish
    (launched Active, or its Shadow was ended early by a controller)."""
    start = cadence.shadow_started_at
    if start is None or cadence.status not in ("shadow", "paused"):
        return None
    if cadence.shadow_ended_early_at is not None and cadence.shadow_ended_early_at >= start:
        return None
    if cadence.status == "paused" and cadence.activated_at is not None and cadence.activated_at >= start:
        return None  # it went Active after this Shadow run: paused since
    return start + SHADOW_TRIAL


def shadow_days_left(cadence: Cadence, now: dt.datetime) -> int | None:
    """Whole days of Shadow still to run (rounded up; 0 once the 14 days are over), None when none apply."""
    ends = shadow_ends_at(cadence)
    if ends is None:
        return None
    return max(0, -((now - ends) // dt.timedelta(days=1)))


def may_activate(cadence: Cadence, now: dt.datetime) -> bool:
    """Whether the cadence may go Active now: its 14 days of Shadow are over (or were ended early)."""
    if "active" not in TRANSITIONS.get(cadence.status, ()):
        return False
    return not shadow_days_left(cadence, now)


def _refuse_early_activation(cadence: Cadence, now: dt.datetime) -> None:
    left = shadow_days_left(cadence, now)
    if left:
        ends = shadow_ends_at(cadence)
        raise CadenceError(
            f"“{cadence.name}” is in Shadow until {ends:%-d %b %Y} ({left} day{'' if left == 1 else 's'} left): "
            "a cadence runs 14 days in Shadow before it can go Active. A controller can end Shadow early with a "
            "reason.", "status")


def end_shadow_early(session: Session, org: Organization, user: User, cadence: Cadence, reason: str,
                     now: dt.datetime) -> None:
    """A controller ends the 14 days of Shadow before they are over and makes the cadence Active, saying why
    (audited with the days that were left). The caller checks the permission."""
    reason = " ".join(reason.split())
    left = shadow_days_left(cadence, now)
    if cadence.status != "shadow" or not left:
        raise CadenceError(f"“{cadence.name}” has no Shadow period left to end"
                           + (": activate it instead." if may_activate(cadence, now) else "."), "status")
    if len(reason) < 10:
        raise CadenceError("Say why Shadow should end early (at least 10 characters): it is kept in the audit log.",
                           "reason")
    if len(reason) > 500:
        raise CadenceError("Keep the reason under 500 characters.", "reason")
    cadence.shadow_ended_early_at = now
    cadence.shadow_end_reason = reason
    cadence.status = "active"
    cadence.activated_at = now
    audit.record(session, org_id=org.id, actor=user, action="cadences.shadow_ended_early", subject=cadence,
                 before={"status": "shadow", "shadow_days_left": left,
                         "shadow_started_at": cadence.shadow_started_at.isoformat()},
                 after={"status": "active"}, reason=reason)


@dataclass(frozen=True)
class ShadowMessage:
    """One e-mail the cadence made while it ran in Shadow: what it would have sent."""

    message: Message
    customer_name: str
    invoice_number: str | None
    step_position: int


def shadow_messages(session: Session, org_id: int, cadence: Cadence, limit: int = 50) -> tuple[list[ShadowMessage],
                                                                                                 int]:
    """The messages the cadence made in its latest Shadow run (newest first, at most `limit`) and how many there
    were: drafts for review, whatever a person did with them since."""
    if cadence.shadow_started_at is None:
        return [], 0
    start = cadence.shadow_started_at
    ended = [moment for moment in (cadence.activated_at, cadence.shadow_ended_early_at)
             if moment is not None and moment >= start]
    where = [Message.org_id == org_id, CadenceStep.cadence_id == cadence.id, Message.created_at >= start]
    if ended:
        where.append(Message.created_at < min(ended))
    joined = (select(Message, Customer.name, Invoice.number, CadenceStep.position)
              .join(CadenceStep, and_(CadenceStep.org_id == Message.org_id, CadenceStep.id == Message.cadence_step_id))
              .join(Customer, and_(Customer.org_id == Message.org_id, Customer.id == Message.customer_id))
              .outerjoin(Invoice, and_(Invoice.org_id == Message.org_id, Invoice.id == Message.invoice_id))
              .where(*where))
    rows = session.execute(joined.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)).all()
    total = session.scalar(select(func.count()).select_from(
        select(Message.id).join(CadenceStep, and_(CadenceStep.org_id == Message.org_id,
                                                  CadenceStep.id == Message.cadence_step_id)).where(*where).subquery()))
    return [ShadowMessage(*row) for row in rows], total or 0


def change_status(session: Session, org: Organization, user: User, cadence: Cadence, status: str,
                  now: dt.datetime) -> None:
    """Activate, pause, resume in Shadow or archive a cadence (audited). Pausing keeps drafts already made.
    Active only once its 14 days of Shadow are over (or a controller ended them early)."""
    if status not in TRANSITIONS.get(cadence.status, ()):
        raise CadenceError(f"A cadence that is {STATUS_LABELS.get(cadence.status, cadence.status)} cannot be "
                           f"made {STATUS_LABELS.get(status, status)}.", "status")
    if status == "active":
        _refuse_early_activation(cadence, now)
    before = cadence.status
    cadence.status = status
    if status == "active":
        cadence.activated_at = now
    elif status == "shadow":
        cadence.shadow_started_at = now
    audit.record(session, org_id=org.id, actor=user, action="cadences.status_changed", subject=cadence,
                 before={"status": before}, after={"status": status})


# --- The engine -------------------------------------------------------------------------------------------

def key_of(step_id: int, invoice_id: int) -> str:
    """A cadence message's idempotency key, from its step and its first invoice."""
    return f"cadence:{step_id}:invoice:{invoice_id}"


@dataclass
class TickResult:
    evaluated: int = 0
    drafts: int = 0
    scheduled: int = 0
    consolidated: int = 0  # invoices listed in another invoice's e-mail rather than getting their own
    # Why Autopilot cadences wrote drafts instead of sends this tick (the sender stopped being ready since)
    autopilot_held: tuple[str, ...] = ()


@dataclass(frozen=True)
class DueInvoice:
    """An invoice whose next cadence step is due, with what its e-mail needs."""

    id: int
    customer_id: int
    number: str
    balance_minor: int
    currency: str
    due_date: dt.date
    customer_name: str
    time_zone: str | None
    held: bool  # escalated to Shadow: drafts only, whatever the segment's mode
    portal_version: int  # signed into the e-mail's links
    promise_date: dt.date | None = None  # the latest promise's date, for {promise_date}
    disputed: bool = False  # a dispute is open on the customer (on any of its invoices)
    promise_pending: bool = False  # a promise to pay this invoice is pending


def tick(session: Session, org: Organization, now: dt.datetime) -> TickResult:
    """Create the messages every running cadence of the workspace is due to send now (idempotent)."""
    _one_tick_at_a_time(session, org.id)
    result = TickResult()
    today = local_today(org.time_zone, now)
    cadences = session.scalars(select(Cadence).where(Cadence.org_id == org.id,
                                                     Cadence.status.in_(LAUNCH_STATUSES))
                               .order_by(Cadence.id)).all()
    planner, contacts, links = None, None, None
    planned: list[PlannedMessage] = []
    for cadence in cadences:
        if cadence.segment is None or not cadence.steps:
            continue
        due = _due_invoices(session, org.id, cadence, today, result)
        if not due:
            continue
        if planner is None:  # loaded once, and only when something is due
            planner = SendPlanner(session, org, policy_of(session, org.id), now)
            contacts = _recipients(session, org.id, today)
            links = link_maker(session, org.id)
            # Checked again at every tick, not only when Autopilot was switched on: since then the inbox may have
            # been disconnected, the domain changed, or bounces risen. Until it holds again, e-mails wait as
            # drafts for a person rather than pile up as sends that cannot go.
            result.autopilot_held = tuple(sending_blockers(session, org.id, now))
        autopilot = (cadence.status == "active" and cadence.segment.mode == "autopilot"
                     and not result.autopilot_held)
        for (_customer, step_id, _pending), invoices in _consolidated(due).items():
            step = next(s for s in cadence.steps if s.id == step_id)
            message = _plan_message(org, step, invoices, contacts.get(invoices[0].customer_id),
                                    planner if autopilot and not any(i.held for i in invoices) else None, today,
                                    links)
            planned.append(message)
            result.drafts += message.values["status"] == "draft"
            result.scheduled += message.values["status"] == "scheduled"
            result.consolidated += len(invoices) - 1
    _write_messages(session, org.id, planned, now)
    if len(planned) >= ANALYZE_AFTER:
        _refresh_statistics(session)
    return result


def _refresh_statistics(session: Session) -> None:
    # Without fresh statistics PostgreSQL believes the outbox still holds what it held before this tick,
    # and the next tick's per-step count turns into a nested loop per invoice (20 s instead of 1 s at 20k).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE messages, message_invoices"))


def _one_tick_at_a_time(session: Session, org_id: int) -> None:
    """Serialise ticks of one workspace (a transaction-scoped lock on PostgreSQL). The unique keys already
    forbid a second message; the lock keeps a racing tick from failing on them halfway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(TICK_LOCK, org_id)))


def _due_invoices(session: Session, org_id: int, cadence: Cadence, today: dt.date,
                  result: TickResult) -> list[tuple[DueInvoice, CadenceStep]]:
    """The invoices the cadence's segment selects whose next step is due today, with that step."""
    steps = cadence.steps
    done = (select(MessageInvoice.invoice_id.label("invoice_id"), func.count().label("done"),
                   func.max(func.coalesce(Message.sent_at, Message.scheduled_for, Message.created_at)).label("last"))
            .join(Message, and_(Message.id == MessageInvoice.message_id, Message.org_id == org_id))
            .where(MessageInvoice.org_id == org_id, MessageInvoice.cadence_step_id.in_([s.id for s in steps]))
            .group_by(MessageInvoice.invoice_id).subquery("done"))
    shadow_hold = exists().where(Hold.org_id == org_id, Hold.invoice_id == Invoice.id, Hold.kind == "shadow",
                                 Hold.released_at.is_(None))
    promised = _promise_dates(org_id)
    # No step can come before the first one, which always counts from the due date.
    earliest_due = today - dt.timedelta(days=steps[0].offset_days)
    rows = session.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.number, undisputed_balance_sql(org_id), Invoice.currency,
               Invoice.due_date, Customer.name, Customer.time_zone, shadow_hold.label("held"),
               Customer.portal_version, promised.c.promise_date, _customer_disputed(org_id), _promise_pending(org_id),
               func.coalesce(done.c.done, 0), done.c.last)
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .outerjoin(done, done.c.invoice_id == Invoice.id)
        .outerjoin(promised, promised.c.invoice_id == Invoice.id)
        .where(Invoice.org_id == org_id, Invoice.status == "open", Invoice.due_date <= earliest_due,
               eligible_clause(today), segment_clause(SegmentRules.from_json(cadence.segment.rules), today),
               func.coalesce(done.c.done, 0) < len(steps))).all()
    result.evaluated += len(rows)
    due = []
    for *fields, done_count, last_touch in rows:
        step = steps[done_count]
        if _is_due(step, fields[5], last_touch, today):
            due.append((DueInvoice(*fields), step))
    return due


def _promise_dates(org_id: int):
    """Each invoice's latest promised date (cancelled promises aside), as {promise_date} reads it."""
    return (select(Promise.invoice_id.label("invoice_id"), func.max(Promise.promised_date).label("promise_date"))
            .where(Promise.org_id == org_id, Promise.status != "cancelled")
            .group_by(Promise.invoice_id).subquery("promised"))


def _customer_disputed(org_id: int):
    return exists().where(Dispute.org_id == org_id, Dispute.customer_id == Invoice.customer_id,
                          Dispute.status.in_(OPEN_DISPUTE_STATUSES)).label("disputed")


def _promise_pending(org_id: int):
    return exists().where(Promise.org_id == org_id, Promise.invoice_id == Invoice.id,
                          Promise.status == "pending").label("promise_pending")


def _is_due(step: CadenceStep, due_date: dt.date, last_touch: dt.datetime | None, today: dt.date) -> bool:
    if step.anchor == "previous_touch":
        return last_touch is not None and (today - last_touch.date()).days >= step.offset_days
    return days_past_due(due_date, today) >= step.offset_days


def _consolidated(due: list[tuple[DueInvoice, CadenceStep]]) -> dict[tuple[int, int, bool], list[DueInvoice]]:
    """One e-mail per customer and step: a customer's invoices due for the same step today go together, unless
    the moment calls for other content for some (a promise pending on them): those get their own e-mail."""
    groups: dict[tuple[int, int, bool], list[DueInvoice]] = defaultdict(list)
    for invoice, step in sorted(due, key=lambda pair: (pair[0].due_date, pair[0].id)):
        groups[(invoice.customer_id, step.id, invoice.promise_pending)].append(invoice)
    return groups


def _recipients(session: Session, org_id: int, today: dt.date) -> dict[int, tuple[int, str]]:
    """Each customer's reachable contact (primary first): not bounced, opted out or suppressed."""
    rows = session.execute(
        select(Contact.customer_id, Contact.id, Contact.email)
        .where(Contact.org_id == org_id, Contact.email.is_not(None), Contact.email != "",
               Contact.opted_out_at.is_(None), or_(Contact.bounce_kind.is_(None), Contact.bounce_kind != "hard"),
               or_(Contact.suppressed_until.is_(None), Contact.suppressed_until <= today))
        .order_by(Contact.customer_id, Contact.is_primary.desc(), Contact.id))
    found: dict[int, tuple[int, str]] = {}
    for customer_id, contact_id, email in rows:
        found.setdefault(customer_id, (contact_id, email))
    return found


@dataclass
class PlannedMessage:
    """A message the tick will write: its column values and the invoices it lists."""

    values: dict
    invoice_ids: list[int]
    step_id: int


def _plan_message(org: Organization, step: CadenceStep, invoices: list[DueInvoice], contact: tuple[int, str] | None,
                  planner: SendPlanner | None, today: dt.date, links: LinkMaker) -> PlannedMessage:
    """A draft for review or, under Autopilot, a send scheduled at the first moment the guardrails allow."""
    first = invoices[0]
    subject, body, problems = render_step(step, invoices, today, org.name, links, org.email_signature or "")
    values = {"org_id": org.id, "idempotency_key": key_of(step.id, first.id), "customer_id": first.customer_id,
              "invoice_id": first.id, "contact_id": contact[0] if contact else None,
              "to_email": contact[1] if contact else None, "cadence_step_id": step.id, "subject": subject,
              "body": body, "status": "draft", "scheduled_for": None, "wait_reason": None}
    if problems or contact is None:
        values["wait_reason"] = ("Needs review: " + (" ".join(problems) if problems else "no reachable contact."))[:200]
    elif first.disputed:  # whatever the mode: a person reads the dispute before anything goes to this customer
        values["wait_reason"] = "Needs review: a dispute is open on this customer (written as a neutral e-mail)."
    elif planner is not None:
        moment, reason = planner.place(first.customer_id, ZoneInfo(first.time_zone or org.time_zone))
        if moment is None:
            values["wait_reason"] = f"Needs review: {reason}"[:200]
        else:
            values.update(status="scheduled", scheduled_for=moment, wait_reason=reason)
    return PlannedMessage(values, [invoice.id for invoice in invoices], step.id)


def _write_messages(session: Session, org_id: int, planned: list[PlannedMessage], now: dt.datetime) -> None:
    """Insert the tick's messages and the invoices each lists: two set-based statements, whatever the count."""
    if not planned:
        return
    if session.get_bind().dialect.name == "postgresql":
        _write_messages_postgresql(session, org_id, planned, now)
        return
    ids = session.scalars(insert(Message).returning(Message.id, sort_by_parameter_order=True),
                          [message.values for message in planned]).all()
    session.execute(insert(MessageInvoice), [
        {"org_id": org_id, "message_id": message_id, "invoice_id": invoice_id, "cadence_step_id": message.step_id}
        for message_id, message in zip(ids, planned, strict=True) for invoice_id in message.invoice_ids])


# One array per column, unnested server-side: a first tick writes tens of thousands of rows, and binding them
# as one statement per thousand rows cost more than PostgreSQL spends storing them.
_INSERT_MESSAGES = text("""
    INSERT INTO messages (org_id, idempotency_key, customer_id, invoice_id, contact_id, to_email, cadence_step_id,
                          subject, body, status, scheduled_for, wait_reason, attempts, created_at, updated_at)
    SELECT :org_id, m.*, 0, :now, :now
    FROM unnest(CAST(:keys AS text[]), CAST(:customers AS int[]), CAST(:invoices AS int[]),
                CAST(:contacts AS int[]), CAST(:emails AS text[]), CAST(:steps AS int[]), CAST(:subjects AS text[]),
                CAST(:bodies AS text[]), CAST(:statuses AS text[]), CAST(:moments AS timestamptz[]),
                CAST(:reasons AS text[])) AS m
    RETURNING id, idempotency_key""")
_INSERT_MESSAGE_INVOICES = text("""
    INSERT INTO message_invoices (org_id, message_id, invoice_id, cadence_step_id)
    SELECT :org_id, l.* FROM unnest(CAST(:messages AS int[]), CAST(:invoices AS int[]), CAST(:steps AS int[])) AS l""")
_MESSAGE_ARRAYS = {"keys": "idempotency_key", "customers": "customer_id", "invoices": "invoice_id",
                   "contacts": "contact_id", "emails": "to_email", "steps": "cadence_step_id", "subjects": "subject",
                   "bodies": "body", "statuses": "status", "moments": "scheduled_for", "reasons": "wait_reason"}


def _write_messages_postgresql(session: Session, org_id: int, planned: list[PlannedMessage], now: dt.datetime):
    arrays = {name: [message.values[column] for message in planned] for name, column in _MESSAGE_ARRAYS.items()}
    ids = dict((key, message_id) for message_id, key in
               session.execute(_INSERT_MESSAGES, {"org_id": org_id, "now": now, **arrays}))
    links = [(ids[message.values["idempotency_key"]], invoice_id, message.step_id)
             for message in planned for invoice_id in message.invoice_ids]
    messages, invoices, steps = (list(column) for column in zip(*links, strict=True))
    session.execute(_INSERT_MESSAGE_INVOICES,
                    {"org_id": org_id, "messages": messages, "invoices": invoices, "steps": steps})


def render_step(step: CadenceStep, invoices: list[DueInvoice], today: dt.date, sender_name: str,
                links: LinkMaker, signature: str = "") -> tuple[str, str, list[str]]:
    """The step's subject and body for one invoice or, consolidated, for several listed in one e-mail.

    The step's own text, as the person who launched the cadence wrote and reviewed it (its default came from the
    rule-based drafter): never the writing assistant, whose answers nobody would review before they go. Only
    when the moment rules the step's text out (a dispute open on the customer, a promise pending) does the
    rule-based drafter write the template `choose_template` picks, as the inspector would: never a firm
    escalation to someone waiting for an answer or expected to pay on a promised date.
    """
    first = invoices[0]
    values = invoice_merge_values(first.customer_name, first.number, first.balance_minor, first.currency,
                                  first.due_date, today, sender_name, first.promise_date, signature)
    values |= links.values(first.customer_id, first.portal_version, [i.id for i in invoices])
    if len(invoices) > 1:
        values |= _consolidated_values(invoices)
    subject, body = _step_text(step, invoices, today, values)
    subject, body = pluralised(subject, body, invoices)
    filled_subject, filled_body = fill(subject, values), fill(body, values)
    problems = filled_subject.problems + filled_body.problems
    return filled_subject.text[:300], signed(filled_body.text, signature), problems


def moment_template(invoice: DueInvoice, today: dt.date) -> str | None:
    """The template the moment calls for instead of the step's own text, if it does."""
    if not (invoice.disputed or invoice.promise_pending):
        return None
    return choose_template(Moment(days_past_due(invoice.due_date, today), _promise_state(invoice, today),
                                  invoice.disputed))


def _promise_state(invoice: DueInvoice, today: dt.date) -> str:
    """As `promise_state` reads the latest promise: a pending one whose date passed is missed."""
    if not invoice.promise_pending:
        return ""
    return "missed" if invoice.promise_date is not None and invoice.promise_date < today else "pending"


def _step_text(step: CadenceStep, invoices: list[DueInvoice], today: dt.date,
               values: dict[str, str]) -> tuple[str, str]:
    first = invoices[0]
    template = moment_template(first, today)
    # A step that speaks of the promise itself was written for this moment; nothing written ahead fits a dispute.
    if template is None or (not first.disputed and "{promise_date}" in step.subject + step.body):
        return step.subject, step.body
    return draft_email(DraftContext(
        purpose=template, tone=step.tone_override or "professional", promise=_promise_state(first, today),
        bucket=aging_bucket(first.due_date, today) if len(invoices) == 1 else "",
        reminded=step.position > 1, links=available_links(values),
        seed=Seed(f"customer:{first.customer_id}", step.position - 1)))


def _consolidated_values(invoices: list[DueInvoice]) -> dict[str, str]:
    """The fields that change meaning for several invoices (the one-invoice sentences give way to the list)."""
    promised = [i.promise_date for i in invoices if i.promise_date is not None]
    return {
        **list_values(invoices),
        # The soonest promised date: the one the payer is nearest to keeping or has already missed.
        "promise_date": min(promised).strftime(DATE_FORMAT) if promised else "",
    }


def is_engine_message(message: Message) -> bool:
    """Written by the engine and sent unedited (a draft a person approved is sent as they saw it)."""
    return message.cadence_step_id is not None and message.approved_by_id is None


def listed_invoices(session: Session, org_id: int, message_ids: list[int]) -> dict[int, list[DueInvoice]]:
    """The invoices each of these messages lists, as they are now (oldest due first), for re-rendering."""
    promised = _promise_dates(org_id)
    rows = session.execute(
        select(MessageInvoice.message_id, Invoice.id, Invoice.customer_id, Invoice.number,
               undisputed_balance_sql(org_id), Invoice.currency, Invoice.due_date, Customer.name, Customer.time_zone,
               false(), Customer.portal_version, promised.c.promise_date, _customer_disputed(org_id),
               _promise_pending(org_id))
        .join(Invoice, and_(Invoice.org_id == MessageInvoice.org_id, Invoice.id == MessageInvoice.invoice_id))
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .outerjoin(promised, promised.c.invoice_id == Invoice.id)
        .where(MessageInvoice.org_id == org_id, MessageInvoice.message_id.in_(message_ids))
        .order_by(Invoice.due_date, Invoice.id))
    listed: dict[int, list[DueInvoice]] = defaultdict(list)
    for message_id, *fields in rows:
        listed[message_id].append(DueInvoice(*fields))
    return listed


def rerender(session: Session, message: Message, org: Organization, step: CadenceStep | None,
             listed: list[DueInvoice], exclude: set[int], today: dt.date, links: LinkMaker) -> list[str]:
    """Render an engine e-mail again just before it goes: balances as they are now (`listed`), and without the
    invoices (`exclude`) that stopped since it was scheduled. Returns what the new text lacks (empty: complete)."""
    if exclude:
        session.execute(delete(MessageInvoice).where(MessageInvoice.org_id == org.id,
                                                     MessageInvoice.message_id == message.id,
                                                     MessageInvoice.invoice_id.in_(exclude)))
    invoices = [invoice for invoice in listed if invoice.id not in exclude]
    if step is None or not invoices:
        return []
    message.subject, message.body, problems = render_step(step, invoices, today, org.name, links,
                                                          org.email_signature or "")
    message.invoice_id = invoices[0].id
    return problems
