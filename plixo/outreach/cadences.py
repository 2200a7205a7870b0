"""Cadences (ordered e-mail steps for a segment) and the Autopilot engine that turns them into messages.

The engine is idempotent by construction: every message it creates carries the key
`cadence:<step id>:invoice:<invoice id>`, unique per workspace, so a second tick creates nothing more and
a tick racing another fails on the unique key instead of writing a second message. Shadow cadences,
Shadow segments and invoices escalated to Shadow get drafts for review; Autopilot gets scheduled sends at
the next moment the guardrails allow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.ledger.aging import days_past_due, local_today
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.outreach.guardrails import next_allowed_moment
from plixo.outreach.models import TONES, Cadence, CadenceStep, Message, MessageInvoice, Policy, Segment
from plixo.outreach.segments import SegmentRules, segment_clause
from plixo.queue.drafting import MERGE_FIELDS, fill
from plixo.queue.inspector import merge_values
from plixo.queue.models import Hold
from plixo.queue.service import eligible_clause

ANCHORS = ("due_date", "previous_touch")
LAUNCH_STATUSES = ("shadow", "active")
MAX_STEPS = 12


class CadenceError(ValueError):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


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
    name = " ".join(name.split())
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


# --- The engine -------------------------------------------------------------------------------------------

def key_of(step_id: int, invoice_id: int) -> str:
    return f"cadence:{step_id}:invoice:{invoice_id}"


@dataclass
class TickResult:
    evaluated: int = 0
    drafts: int = 0
    scheduled: int = 0


def tick(session: Session, org: Organization, now: dt.datetime) -> TickResult:
    """Create the messages every running cadence of the workspace is due to send now (idempotent)."""
    result = TickResult()
    policy = session.scalar(select(Policy).where(Policy.org_id == org.id))
    today = local_today(org.time_zone, now)
    cadences = session.scalars(select(Cadence).where(Cadence.org_id == org.id,
                                                     Cadence.status.in_(LAUNCH_STATUSES))
                               .order_by(Cadence.id)).all()
    for cadence in cadences:
        if cadence.segment is None or not cadence.steps:
            continue
        _tick_cadence(session, org, policy, cadence, today, now, result)
    return result


def _tick_cadence(session, org, policy, cadence: Cadence, today, now, result: TickResult) -> None:
    steps = cadence.steps
    step_ids = [s.id for s in steps]
    done = (select(MessageInvoice.invoice_id.label("invoice_id"), func.count().label("done"),
                   func.max(func.coalesce(Message.sent_at, Message.scheduled_for, Message.created_at)).label("last"))
            .join(Message, and_(Message.id == MessageInvoice.message_id, Message.org_id == org.id))
            .where(MessageInvoice.org_id == org.id, Message.cadence_step_id.in_(step_ids))
            .group_by(MessageInvoice.invoice_id).subquery("done"))
    shadow_hold = exists().where(Hold.org_id == org.id, Hold.invoice_id == Invoice.id, Hold.kind == "shadow",
                                 Hold.released_at.is_(None))
    rows = session.execute(
        select(Invoice, Customer, func.coalesce(done.c.done, 0), done.c.last, shadow_hold.label("held"))
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .outerjoin(done, done.c.invoice_id == Invoice.id)
        .where(Invoice.org_id == org.id, Invoice.status == "open", eligible_clause(today),
               segment_clause(SegmentRules.from_json(cadence.segment.rules), today),
               func.coalesce(done.c.done, 0) < len(steps))).all()
    autopilot = cadence.status == "active" and cadence.segment.mode == "autopilot"
    for invoice, customer, done_count, last_touch, held in rows:
        result.evaluated += 1
        step = steps[done_count]
        if not _is_due(step, invoice, last_touch, today):
            continue
        contact = _recipient(session, org.id, customer.id, today)
        created = _create_message(session, org, policy, step, invoice, customer, contact, now,
                                  autopilot and not held)
        if created == "draft":
            result.drafts += 1
        elif created == "scheduled":
            result.scheduled += 1


def _is_due(step: CadenceStep, invoice: Invoice, last_touch: dt.datetime | None, today: dt.date) -> bool:
    if step.anchor == "previous_touch":
        return last_touch is not None and (today - last_touch.date()).days >= step.offset_days
    return days_past_due(invoice.due_date, today) >= step.offset_days


def _recipient(session: Session, org_id: int, customer_id: int, today: dt.date) -> Contact | None:
    contacts = session.scalars(select(Contact).where(Contact.org_id == org_id, Contact.customer_id == customer_id)
                               .order_by(Contact.is_primary.desc(), Contact.id)).all()
    return next((c for c in contacts if c.deliverable
                 and not (c.suppressed_until is not None and c.suppressed_until > today)), None)


def _create_message(session, org, policy, step, invoice, customer, contact, now, autopilot: bool) -> str | None:
    key = key_of(step.id, invoice.id)
    if session.scalar(select(Message.id).where(Message.org_id == org.id, Message.idempotency_key == key)):
        return None
    values = merge_values(invoice, local_today(org.time_zone, now), org.name)
    subject, body = fill(step.subject, values), fill(step.body, values)
    problems = subject.problems + body.problems
    message = Message(org_id=org.id, idempotency_key=key, customer_id=customer.id, invoice_id=invoice.id,
                      contact_id=contact.id if contact else None, to_email=contact.email if contact else None,
                      cadence_step_id=step.id, subject=subject.text[:300], body=body.text, status="draft")
    if autopilot and contact is not None and not problems:
        zone = ZoneInfo(customer.time_zone or org.time_zone)
        moment = next_allowed_moment(now, zone, policy, business_hours=True)
        if moment is not None:
            message.status, message.scheduled_for = "scheduled", moment
            message.wait_reason = (None if moment <= now else
                                   f"Business hours: goes {moment.astimezone(zone):%a %H:%M} in {zone.key}")
    elif problems or contact is None:
        message.wait_reason = "Needs review: " + (" ".join(problems) if problems else "no reachable contact.")
    session.add(message)
    session.flush()
    session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id))
    session.flush()
    return message.status
