"""The one send guard: whether an e-mail to a customer may go now, later, or not at all, and why.

People (the S key, Send and Schedule), the inspector's guardrail list, the cadence engine and the sender at send
time all ask `decide`. It weighs, in this order:

- what stops outreach for good: the invoices' stopping conditions and an unreachable recipient; for Autopilot also
  an open dispute on the customer, a reply nobody has handled yet and a sender that is not ready (the
  deliverability gate) — a person may still write in those cases, and is warned (for a waiting reply, asked to
  confirm); the sender holds scheduled e-mails to a customer whose reply waits, and sends them once it is handled;
- the customer's touch rules: the minimum gap after (and before) any other e-mail sent or planned, and the weekly
  cap. Only these may be waived, by a person with the `sends.override` permission and a typed reason;
- the sending window in the payer's own time zone: quiet hours and sending days (and business hours for Autopilot);
- the workspace's daily cap, or the sending domain's warmup cap while that is lower.

The facts come in two shapes: `facts_for_customer` loads one customer's (a person's send, the inspector), the
engine and the sender load many at once; `decide` itself never queries, so every caller gets the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization, Policy
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.outreach.guardrails import may_send_at, next_allowed_moment
from plixo.outreach.models import Message
from plixo.replies.models import Reply

WEEK = dt.timedelta(days=7)
# Messages that count as a touch: sent, being sent, of unknown outcome, or planned.
TOUCHED = ("sent", "delivering", "review")
PLANNED = ("scheduled", "sending")
MAX_ROUNDS = 60  # each round moves the moment later; a handful always suffices, this bounds a bad policy
GRACE = dt.timedelta(minutes=1)  # a moment this close to now is "now"
GAP, WEEKLY, QUIET, DAILY = "Minimum gap", "Touches this week", "Quiet hours", "Daily cap"
WAIVABLE = (GAP, WEEKLY)  # a person with the permission may waive these, with a reason
CHOSEN = "Chosen time"
# (moment, zone, business hours?) -> the first moment at or after it inside the sending window, or None
Window = Callable[[dt.datetime, ZoneInfo, bool], "dt.datetime | None"]


@dataclass(frozen=True)
class Rule:
    label: str
    state: str  # ok, warn (a person may go ahead, knowing), wait, stop
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The guard's answer: each rule as it stands, and the first moment the e-mail may go (None: not at all)."""

    rules: tuple[Rule, ...]
    moment: dt.datetime | None
    now: dt.datetime
    zone: ZoneInfo
    cause: str | None = None  # the rule that moved the moment later, in words ("Minimum gap of 48 h")
    touch_rule_cause: bool = False  # that rule is the customer's gap or weekly cap: an override may waive it

    @property
    def stopped(self) -> bool:
        return self.moment is None

    @property
    def waits(self) -> bool:
        return self.moment is not None and self.moment > self.now + GRACE

    @property
    def stops(self) -> list[str]:
        return [rule.detail for rule in self.rules if rule.state == "stop"]

    @property
    def waivable(self) -> bool:
        """Whether only the customer's touch rules hold the e-mail back (what an override may waive)."""
        return self.waits and self.touch_rule_cause

    @property
    def reason(self) -> str | None:
        """Why it does not go now, in one line ("Minimum gap: goes Thu 10 Dec 09:00 in Europe/Berlin")."""
        if self.moment is None:
            return "; ".join(self.stops) or "No moment within the guardrails was found."
        if not self.waits:
            return None
        return f"{self.cause}: goes {self.moment.astimezone(self.zone):%a %d %b %H:%M} in {self.zone.key}"


class DailyLoad:
    """E-mails counted against the daily cap, per workspace day: known ahead (the engine, the sender) or
    counted on demand (one person's send needs one or two days, not the whole outbox)."""

    def __init__(self, limit: int, zone: ZoneInfo, label: str = DAILY,
                 counter: Callable[[dt.date], int] | None = None, known: Counter | None = None,
                 reached: str | None = None):
        self.limit, self.zone, self.label = limit, zone, label
        self.reached = reached or f"{label} of {limit} reached"
        self._counter, self._known = counter, known if known is not None else Counter()
        self._counted: set[dt.date] = set(self._known) if counter is None else set()

    def day_of(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def count(self, day: dt.date) -> int:
        if day not in self._counted and self._counter is not None:
            self._known[day] += self._counter(day)
            self._counted.add(day)
        return self._known[day]

    def full(self, moment: dt.datetime) -> bool:
        return self.count(self.day_of(moment)) >= self.limit

    def add(self, moment: dt.datetime) -> None:
        self.count(self.day_of(moment))
        self._known[self.day_of(moment)] += 1

    def next_day_start(self, moment: dt.datetime) -> dt.datetime:
        local = moment.astimezone(self.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        return (local + dt.timedelta(days=1)).astimezone(dt.UTC)


@dataclass(frozen=True)
class WaitingReply:
    """A reply Plixo did not fully act on: it pauses the chase of its customer until a person handles it."""

    received_at: dt.datetime
    sender: str

    def describe(self, zone: ZoneInfo) -> str:
        return f"Reply from {self.sender} waiting since {self.received_at.astimezone(zone):%a %d %b %H:%M}"


@dataclass
class CustomerFacts:
    """What the guard knows of one customer at the moment of asking."""

    touches: list[dt.datetime] = field(default_factory=list)  # e-mails sent, in flight or planned
    stops: list[str] = field(default_factory=list)  # stopping conditions, an unreachable recipient
    open_disputes: list[str] = field(default_factory=list)  # invoice numbers
    waiting_reply: WaitingReply | None = None  # the payer's oldest reply nobody has handled yet


def daily_cap(policy: Policy) -> int:
    """Sends allowed per workspace day. A workspace has one mailbox on one sending domain, so the tighter
    of the two caps applies."""
    return min(policy.daily_cap_per_mailbox, policy.daily_cap_per_domain)


def earliest_touch(touches: Sequence[dt.datetime], moment: dt.datetime,
                   policy: Policy) -> tuple[dt.datetime, str | None]:
    """The first instant at or after `moment` that keeps the minimum gap after the customer's other touches
    (planned ones included, so nothing is ever slipped in before a planned e-mail) and stays within the weekly
    cap; with the rule that moved it, if one did."""
    if not touches:
        return moment, None
    reason = None
    gap_end = max(touches) + dt.timedelta(hours=policy.min_gap_hours)
    if gap_end > moment:
        moment, reason = gap_end, f"{GAP} of {policy.min_gap_hours} h"
    cap = policy.max_touches_per_week
    recent = sorted(t for t in touches if t > moment - WEEK)
    if len(recent) >= cap:
        moment, reason = recent[-cap] + WEEK, f"At most {cap} touch{'' if cap == 1 else 'es'} a week"
    return moment, reason


def decide(policy: Policy, load: DailyLoad, facts: CustomerFacts, zone: ZoneInfo, now: dt.datetime, *,
           automated: bool, business_hours: bool | None = None, at: dt.datetime | None = None,
           waive_touch_rules: bool = False, automation_blockers: Sequence[str] = (), explain: bool = True,
           window: Window | None = None) -> Verdict:
    """May an e-mail to this customer go at `at` (default: now)? See the module's docstring for the rules.
    `explain=False` leaves out the state of each timing rule (only the inspector lists them): the engine asks
    this for every customer of a tick, and passes a memoised `window` (most customers start from the same
    moment in the same zone)."""
    business_hours = automated if business_hours is None else business_hours
    start = max(now, at or now)
    rules = [Rule("Stopped", "stop", reason) for reason in facts.stops]
    rules += _attention_rules(facts, automated, automation_blockers, zone)
    if any(rule.state == "stop" for rule in rules):
        return Verdict(tuple(rules), None, now, zone)
    window = window or (lambda moment, zone, business: next_allowed_moment(moment, zone, policy, business))
    moment, cause, touch_rule = _first_moment(policy, load, facts.touches, zone, start, business_hours,
                                              waive_touch_rules, window)
    if explain:
        rules += _timing_rules(policy, load, facts.touches, zone, start, business_hours, waive_touch_rules)
    if moment is None:
        rules.append(Rule("Sending days", "stop", cause or "The policy allows no sending day."))
        return Verdict(tuple(rules), None, now, zone)
    if moment <= start:
        cause, touch_rule = (CHOSEN if start > now + GRACE else None), False
    return Verdict(tuple(rules), moment, now, zone, cause, touch_rule)


def _attention_rules(facts: CustomerFacts, automated: bool, blockers: Sequence[str], zone: ZoneInfo) -> list[Rule]:
    """What a person may still write through, knowing, but Autopilot never sends through."""
    rules = []
    if facts.open_disputes:
        numbers = ", ".join(facts.open_disputes[:3])
        rules.append(Rule("Open dispute", "stop" if automated else "warn",
                          f"{numbers} disputed: Autopilot leaves this customer to a person." if automated else
                          f"{numbers} disputed: read it first; this e-mail must not chase the disputed amount."))
    if facts.waiting_reply is not None:
        waiting = facts.waiting_reply.describe(zone)
        rules.append(Rule("Reply", "stop" if automated else "warn",
                          f"{waiting}: the chase is paused until someone handles it." if automated else
                          f"{waiting}: read it first. Sending asks you to confirm, and marks it handled."))
    if automated:
        rules += [Rule("Deliverability", "stop", f"Autopilot held: {blocker}") for blocker in blockers]
    return rules


def _first_moment(policy: Policy, load: DailyLoad, touches: Sequence[dt.datetime], zone: ZoneInfo,
                  start: dt.datetime, business_hours: bool, waive: bool,
                  window: Window) -> tuple[dt.datetime | None, str | None, bool]:
    """The first moment at or after `start` every timing rule allows; the first rule that moved it, and whether
    that rule is one of the customer's touch rules."""
    moment, cause, touch_rule = start, None, False
    for _ in range(MAX_ROUNDS):
        touched, why = (moment, None) if waive else earliest_touch(touches, moment, policy)
        allowed = window(touched, zone, business_hours)
        if allowed is None:
            return None, "The policy allows no sending day.", False
        if cause is None and why is not None:
            cause, touch_rule = why, True
        elif cause is None and allowed > touched:
            cause = "Business hours" if business_hours else QUIET
        if not load.full(allowed):
            return allowed, cause, touch_rule
        moment = load.next_day_start(allowed)
        cause = cause or load.reached
    return None, "No moment within the guardrails was found; review this e-mail.", False


def _timing_rules(policy: Policy, load: DailyLoad, touches: Sequence[dt.datetime], zone: ZoneInfo,
                  start: dt.datetime, business_hours: bool, waived: bool) -> list[Rule]:
    """Each timing rule as it stands at `start`, for the inspector's list."""
    local = start.astimezone(zone)
    if may_send_at(start, zone, policy, business_hours):
        rules = [Rule(QUIET, "ok", f"It is {local:%a %H:%M} for this customer ({zone.key}).")]
    else:
        opens = next_allowed_moment(start, zone, policy, business_hours)
        until = (f"sends wait until {opens.astimezone(zone):%a %H:%M}." if opens else
                 "the policy allows no sending day.")
        rules = [Rule(QUIET, "wait", f"It is {local:%a %H:%M} for this customer ({zone.key}); {until}")]
    sent = load.count(load.day_of(start))
    rules.append(Rule(load.label, "wait" if sent >= load.limit else "ok", f"{sent} of {load.limit} today."))
    counted = len([t for t in touches if t > start - WEEK])  # as earliest_touch counts: planned ones too
    cap = policy.max_touches_per_week
    rules.append(Rule(WEEKLY, _waived("ok" if counted < cap else "wait", waived),
                      f"{counted} of {cap} allowed per customer (sent in the last 7 days or planned)."))
    gap = dt.timedelta(hours=policy.min_gap_hours)
    last = max(touches, default=None)
    if last is None or last + gap <= start:
        rules.append(Rule(GAP, "ok", f"No other e-mail to this customer within {policy.min_gap_hours} h."))
    else:
        what = "planned for" if last > start else "last one"
        rules.append(Rule(GAP, _waived("wait", waived),
                          f"{policy.min_gap_hours} h apart: {what} {last.astimezone(zone):%a %d %b %H:%M}; "
                          f"next after {(last + gap).astimezone(zone):%a %d %b %H:%M} ({zone.key})."))
    return rules


def _waived(state: str, waived: bool) -> str:
    return "warn" if waived and state == "wait" else state


# --- Facts of one customer --------------------------------------------------------------------------------

def lock_customer(session: Session, customer_id: int) -> None:
    """Serialise sends to one customer until this transaction ends: two presses, two tabs or two processes then
    see each other's e-mail, and the second one is placed after the first. A row lock on PostgreSQL; SQLite
    allows one writer at a time, so a harmless write takes that lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    else:
        session.execute(update(Customer).where(Customer.id == customer_id)
                        .values(time_zone=Customer.time_zone).execution_options(synchronize_session=False))


def touch_moment():
    """When a message counts as a touch: when it left, else when it is planned to."""
    return func.coalesce(Message.sent_at, Message.scheduled_for, Message.updated_at)


def customer_touches(session: Session, org_id: int, customer_id: int, now: dt.datetime,
                     policy: Policy) -> list[dt.datetime]:
    since = now - max(WEEK, dt.timedelta(hours=policy.min_gap_hours))
    when = touch_moment()
    return [moment for moment, in session.execute(select(when).where(
        Message.org_id == org_id, Message.customer_id == customer_id, Message.status.in_(TOUCHED + PLANNED),
        when >= since))]


def workspace_load(session: Session, org: Organization, policy: Policy, limit: int | None = None,
                   label: str = DAILY) -> DailyLoad:
    """The daily cap's count, one day at a time as asked: what left, may have left or is planned that day."""
    zone = ZoneInfo(org.time_zone)
    when = func.coalesce(Message.sent_at, Message.scheduled_for, Message.updated_at)

    def count(day: dt.date) -> int:
        start = dt.datetime.combine(day, dt.time(), zone)
        return session.scalar(select(func.count()).select_from(Message).where(
            Message.org_id == org.id, Message.status.in_(TOUCHED + PLANNED), when >= start,
            when < start + dt.timedelta(days=1))) or 0
    return DailyLoad(limit if limit is not None else daily_cap(policy), zone, label, counter=count)


def open_disputes(session: Session, org_id: int, customer_ids: set[int] | None = None) -> dict[int, list[str]]:
    """Each customer's invoices in open dispute (of these customers only, when given)."""
    statement = (select(Dispute.customer_id, Invoice.number)
                 .join(Invoice, (Invoice.id == Dispute.invoice_id) & (Invoice.org_id == org_id))
                 .where(Dispute.org_id == org_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES)).order_by(Invoice.number))
    if customer_ids is not None:
        statement = statement.where(Dispute.customer_id.in_(customer_ids))
    found: dict[int, list[str]] = defaultdict(list)
    for customer_id, number in session.execute(statement):
        found[customer_id].append(number)
    return found


def waiting_replies(session: Session, org_id: int,
                    customer_ids: set[int] | None = None) -> dict[int, WaitingReply]:
    """Each customer's oldest reply nobody has handled yet (of these customers only, when given)."""
    # The writer by name when they are a contact of the customer ("Reply from Dana Whitfield"), else by address.
    writer = (select(Contact.name).where(Contact.org_id == org_id, Contact.customer_id == Reply.customer_id,
                                         func.lower(Contact.email) == Reply.from_email, Contact.name != "")
              .limit(1).scalar_subquery())
    statement = (select(Reply.customer_id, Reply.received_at, Reply.from_email, writer)
                 .where(Reply.org_id == org_id, Reply.handled_at.is_(None), Reply.customer_id.is_not(None))
                 .order_by(Reply.received_at.desc()))
    if customer_ids is not None:
        statement = statement.where(Reply.customer_id.in_(customer_ids))
    # Newest first, so the oldest is written last: the pause dates from the first reply left waiting.
    return {customer_id: WaitingReply(received_at, name or address or "the payer")
            for customer_id, received_at, address, name in session.execute(statement)}


def facts_for_customer(session: Session, org_id: int, customer_id: int, now: dt.datetime, policy: Policy,
                       stops: Sequence[str] = ()) -> CustomerFacts:
    return CustomerFacts(touches=customer_touches(session, org_id, customer_id, now, policy), stops=list(stops),
                         open_disputes=open_disputes(session, org_id, {customer_id}).get(customer_id, []),
                         waiting_reply=waiting_replies(session, org_id, {customer_id}).get(customer_id))
