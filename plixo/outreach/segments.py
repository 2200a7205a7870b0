"""Segments: saved rules selecting invoices, each run in Shadow Mode or Autopilot behind the readiness gate.

Rules are stored as JSON on the Segment row and read back through SegmentRules, which refuses anything
malformed, so a stored rule always means what the builder showed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from sqlalchemy import String, and_, cast, func, or_, select, true
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.actions import ActionError
from plixo.ledger.aging import AGING_BUCKETS, BUCKET_NAMES
from plixo.ledger.coverage import contact_coverage
from plixo.ledger.eligibility import eligible_clause
from plixo.ledger.models import RISK_TIERS, Contact, Customer, Invoice
from plixo.mail.inbox import sender_address
from plixo.mail.models import SendingDomain
from plixo.mail.sending import bounce_stats, domain_of
from plixo.money import ISO_CURRENCIES, format_money
from plixo.outreach.models import Message, Segment
from plixo.values import typed_name

MODES = ("shadow", "autopilot")
COVERAGE_GATE = 0.95
BOUNCE_GATE = 0.02
BOUNCE_WINDOW_DAYS = 30
MAX_TAGS = 20


class SegmentError(ActionError):
    """Rules or a mode a segment cannot take, with the field to show the message on."""


@dataclass(frozen=True)
class SegmentRules:
    buckets: tuple[str, ...] = ()
    min_balance_minor: int | None = None
    max_balance_minor: int | None = None
    risk_tiers: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owner_id: int | None = None

    def __post_init__(self):
        if not set(self.buckets) <= set(BUCKET_NAMES):
            raise SegmentError("Choose aging buckets from the list.", "buckets")
        if not set(self.risk_tiers) <= set(RISK_TIERS):
            raise SegmentError("Choose risk tiers from the list.", "risk_tiers")
        unknown = [c for c in self.currencies if c not in ISO_CURRENCIES]
        if unknown:
            raise SegmentError(f"{', '.join(unknown)} is not an ISO 4217 currency code.", "currencies")
        if any(v is not None and v < 0 for v in (self.min_balance_minor, self.max_balance_minor)):
            raise SegmentError("Balances cannot be negative.", "min_balance")
        if (self.min_balance_minor is not None and self.max_balance_minor is not None
                and self.min_balance_minor > self.max_balance_minor):
            raise SegmentError("The minimum balance is above the maximum.", "max_balance")
        if len(self.tags) > MAX_TAGS or any(len(t) > 50 for t in self.tags):
            raise SegmentError(f"Use at most {MAX_TAGS} tags of up to 50 characters.", "tags")

    @classmethod
    def from_json(cls, data: dict | None) -> SegmentRules:
        data = data or {}
        return cls(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in data.items() if name in cls.__dataclass_fields__})

    def to_json(self) -> dict:
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in asdict(self).items() if value not in ((), None)}

    def describe(self, currency: str) -> str:
        """The rules in one line: "1-30 · low risk · under $5,000.00"."""
        parts = [", ".join(self.buckets)] if self.buckets else []
        parts += [", ".join(f"{t} risk" for t in self.risk_tiers)] if self.risk_tiers else []
        if self.min_balance_minor is not None:
            parts.append(f"from {format_money(self.min_balance_minor, currency)}")
        if self.max_balance_minor is not None:
            parts.append(f"up to {format_money(self.max_balance_minor, currency)}")
        parts += [", ".join(self.currencies)] if self.currencies else []
        parts += [", ".join(f"#{t}" for t in self.tags)] if self.tags else []
        return " · ".join(parts) or "All open invoices"


def bucket_clause(bucket: str, today: dt.date):
    """Invoices whose due date puts them in aging bucket `bucket` on `today`."""
    for name, low, high in AGING_BUCKETS:
        if name == bucket:
            conditions = []
            if low is not None:
                conditions.append(Invoice.due_date <= today - dt.timedelta(days=low))
            if high is not None:
                conditions.append(Invoice.due_date >= today - dt.timedelta(days=high))
            return and_(*conditions)
    raise ValueError(f"unknown aging bucket {bucket!r}")


def segment_clause(rules: SegmentRules, today: dt.date):
    """The invoices (joined to their customer) a segment's rules select."""
    conditions = []
    if rules.buckets:
        conditions.append(or_(*(bucket_clause(b, today) for b in rules.buckets)))
    if rules.min_balance_minor is not None:
        conditions.append(Invoice.balance_minor >= rules.min_balance_minor)
    if rules.max_balance_minor is not None:
        conditions.append(Invoice.balance_minor <= rules.max_balance_minor)
    conditions.append(customer_rules_clause(rules, Invoice.currency))
    return and_(true(), *conditions)


def customer_rules_clause(rules: SegmentRules, currency_column):
    """The part of a segment's rules that describes customers (risk tiers, tags, owner) and currencies, for any
    row joined to its customer whose currency is `currency_column`."""
    conditions = []
    if rules.risk_tiers:
        conditions.append(Customer.risk_tier.in_(rules.risk_tiers))
    if rules.currencies:
        conditions.append(currency_column.in_(rules.currencies))
    if rules.tags:
        # Tags are a JSON list; its text form holds each tag quoted, on PostgreSQL and SQLite alike.
        text = cast(Customer.tags, String)
        conditions.append(or_(*(text.contains(f'"{tag}"', autoescape=True) for tag in rules.tags)))
    if rules.owner_id:
        conditions.append(Customer.owner_id == rules.owner_id)
    return and_(true(), *conditions)


@dataclass
class SegmentPreview:
    count: int = 0
    balances: dict[str, int] = field(default_factory=dict)


def preview_segment(session: Session, org_id: int, rules: SegmentRules, today: dt.date) -> SegmentPreview:
    """How many eligible open invoices the rules select now, and their balance per currency."""
    rows = session.execute(
        select(Invoice.currency, func.count(), func.sum(Invoice.balance_minor))
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .where(Invoice.org_id == org_id, Invoice.status == "open", eligible_clause(today),
               segment_clause(rules, today))
        .group_by(Invoice.currency))
    preview = SegmentPreview()
    for currency, count, total in rows:
        preview.count += count
        preview.balances[currency] = int(total or 0)
    return preview


def save_segment(session: Session, org: Organization, user: User, name: str, rules: SegmentRules,
                 segment: Segment | None = None) -> Segment:
    """Create a segment (in Shadow Mode) or change an existing one's name and rules; audited."""
    name = typed_name(name)
    if not name:
        raise SegmentError("Name the segment.", "name")
    if len(name) > 120:
        raise SegmentError("Use at most 120 characters.", "name")
    clash = session.scalar(select(Segment.id).where(Segment.org_id == org.id, Segment.name == name))
    if clash is not None and (segment is None or clash != segment.id):
        raise SegmentError(f"A segment called “{name}” already exists.", "name")
    if rules.owner_id and session.scalar(select(Membership.id).where(
            Membership.org_id == org.id, Membership.user_id == rules.owner_id)) is None:
        raise SegmentError("Choose an owner from the list: that person is not in this workspace.", "owner_id")
    before = None if segment is None else {"name": segment.name, "rules": segment.rules}
    if segment is None:
        segment = Segment(org_id=org.id, name=name, mode="shadow", created_by_id=user.id)
        session.add(segment)
    segment.name, segment.rules = name, rules.to_json()
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="segments.saved", subject=segment, before=before,
                 after={"name": segment.name, "rules": segment.rules})
    return segment


def bounce_rate(session: Session, org_id: int, now: dt.datetime) -> float:
    """Share of e-mails sent in the last 30 days whose recipient bounced after the send (0 with none sent)."""
    since = now - dt.timedelta(days=BOUNCE_WINDOW_DAYS)
    sent = select(Message.id, Message.sent_at, Message.contact_id).where(
        Message.org_id == org_id, Message.status == "sent", Message.sent_at >= since).subquery()
    total = session.scalar(select(func.count()).select_from(sent)) or 0
    if not total:
        return 0.0
    bounced = session.scalar(select(func.count()).select_from(sent).join(
        Contact, and_(Contact.org_id == org_id, Contact.id == sent.c.contact_id))
        .where(Contact.bounced_at >= sent.c.sent_at)) or 0
    return bounced / total


def autopilot_blockers(session: Session, org_id: int, now: dt.datetime) -> list[str]:
    """Why Autopilot cannot be switched on now (empty when the readiness gate holds)."""
    blockers = []
    coverage = contact_coverage(session)
    if coverage is None:
        blockers.append("There are no open invoices yet.")
    elif coverage < COVERAGE_GATE:
        blockers.append(f"Contact coverage is {coverage:.1%}; Autopilot needs {COVERAGE_GATE:.0%} of open "
                        "invoices to have a deliverable e-mail contact.")
    rate = bounce_rate(session, org_id, now)
    if rate >= BOUNCE_GATE:
        blockers.append(f"The bounce rate over {BOUNCE_WINDOW_DAYS} days is {rate:.1%}; it must stay under "
                        f"{BOUNCE_GATE:.0%}.")
    return blockers + sending_blockers(session, org_id, now)


def sending_blockers(session: Session, org_id: int, now: dt.datetime) -> list[str]:
    """What stands between the workspace's sender and unattended sending: a connected inbox, a sending domain whose
    SPF, DKIM and DMARC verify, and a domain bounce rate under the gate."""
    address = sender_address(session, org_id)
    if address is None:
        return ["Connect the finance inbox first (Admin → Connectors → Email)."]
    domain = domain_of(address)
    sending = session.scalar(select(SendingDomain).where(SendingDomain.org_id == org_id,
                                                         SendingDomain.domain == domain))
    if sending is None or not sending.ready_for_autopilot:
        return [f"{domain} is not ready for Autopilot: add it on Admin → Deliverability and publish its SPF, DKIM "
                "and DMARC records until all three verify."]
    stats = bounce_stats(session, org_id, domain, now)
    if stats.meaningful and stats.rate >= BOUNCE_GATE:
        return [f"{domain} bounced {stats.rate:.1%} of its e-mails over {BOUNCE_WINDOW_DAYS} days; it must stay "
                f"under {BOUNCE_GATE:.0%}."]
    return []


def set_mode(session: Session, org: Organization, user: User, segment: Segment, mode: str,
             now: dt.datetime) -> Segment:
    """Switch a segment between Shadow Mode and Autopilot; Autopilot only while the gate holds."""
    if mode not in MODES:
        raise SegmentError("Choose Shadow Mode or Autopilot.")
    if mode == "autopilot":
        blockers = autopilot_blockers(session, org.id, now)
        if blockers:
            raise SegmentError("Autopilot is not available yet: " + " ".join(blockers))
    if segment.mode != mode:
        before = segment.mode
        segment.mode = mode
        session.flush()
        audit.record(session, org_id=org.id, actor=user, action="segments.mode_changed", subject=segment,
                     before={"mode": before}, after={"mode": mode})
    return segment
