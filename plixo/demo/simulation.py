"""A month of Autopilot in a few minutes: the real engine and send pipeline over simulated time.

`simulate` builds a throwaway workspace (customers in many time zones, across a daylight-saving change),
then advances a simulated clock in quarter hours. Payers pay in full or in part, promise, dispute, opt out
and get suppressed and reactivated; some addresses bounce; the mail server sometimes answers "try later";
senders crash at random failpoints. The engine ticks and the sender runs exactly as cron would run them.

Every e-mail the simulated mail server accepts is checked by an independent referee against the rules as
they stood at that instant (nothing stopped, reachable recipient, sending window, gap, weekly and daily
caps, Shadow never sent), and for duplicates; at the end, every message must be sent, deliberately not
sent, flagged for review or legitimately waiting: anything else is lost.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.connectors.models import Connection
from plixo.disputes.service import open_dispute
from plixo.failpoints import injected
from plixo.holds.models import Hold
from plixo.holds.service import suppress_contact
from plixo.ledger.aging import local_today
from plixo.ledger.balances import Reason, balance_reason
from plixo.ledger.models import Contact, Customer, Invoice, Payment, PaymentApplication
from plixo.mail.models import SendingDomain
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.guardrails import in_quiet_hours, is_sending_day
from plixo.outreach.models import Cadence, CadenceStep, Message, MessageInvoice, Segment
from plixo.outreach.outbox import PermanentFailure, TransientFailure, claim_due, reconcile_stuck, send_leased
from plixo.outreach.planner import daily_cap
from plixo.promises.service import log_promise
from plixo.tenancy import tenant_scope

# 20 Oct 2026: the month ahead holds Europe's (25 Oct) and North America's (1 Nov) change back from DST.
START = dt.datetime(2026, 10, 20, 6, 0, tzinfo=dt.UTC)
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London",
         "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "UTC")
QUARTER = dt.timedelta(minutes=15)
TICK_EVERY = 4  # quarters: the engine ticks hourly, the sender runs every quarter hour
ON_TIME = dt.timedelta(hours=1)
SENDER = ("Accounts receivable", "ar@simulation.plixo.test")
# Chance per invoice (or customer) per simulated hour.
RATES = {"payment": 0.0005, "partial_payment": 0.0003, "promise": 0.0002, "dispute": 0.0001,
         "opt_out": 0.00005, "suppression": 0.0001}
CRASH_CHANCE = 0.01  # at each failpoint a sender reaches
TRY_LATER_CHANCE = 0.02
WARMED_UP = 1_000_000  # a warmup cap above any policy's: only the policy limits the simulated sender
BOUNCING_SHARE = 0.03  # of contacts, whose address the server refuses
NO_SIGN_IN = "!"  # matches no password hash: the simulation's controller can never sign in


class SimulatedCrash(Exception):  # noqa: N818 - it stands for a sender process dying
    pass


@dataclass
class Report:
    invoices: int = 0
    sent: int = 0
    eligible_touches: int = 0
    on_time: int = 0
    violations: int = 0
    duplicates: int = 0
    lost: int = 0
    violations_by_rule: Counter = field(default_factory=Counter)
    crashes: int = 0
    flagged_for_review: int = 0
    cancelled: int = 0
    failed: int = 0  # refused for good (bounces) or given up after retries
    drafts: int = 0
    events: Counter = field(default_factory=Counter)

    def as_json(self) -> dict:
        return {"invoices": self.invoices, "sent": self.sent, "eligible_touches": self.eligible_touches,
                "on_time": self.on_time, "violations": self.violations, "duplicates": self.duplicates,
                "lost": self.lost, "violations_by_rule": dict(self.violations_by_rule),
                "on_time_ratio": round(self.on_time / self.eligible_touches, 4) if self.eligible_touches else 1.0,
                "crashes": self.crashes, "flagged_for_review": self.flagged_for_review,
                "cancelled": self.cancelled, "failed": self.failed, "drafts": self.drafts,
                "events": dict(self.events)}


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now


# --- The referee -----------------------------------------------------------------------------------------

class Referee:
    """Judges each e-mail as the mail server accepts it, from the database as it stands at that instant."""

    def __init__(self, session: Session, org: Organization, policy: Policy, report: Report):
        self.session, self.org, self.policy, self.report = session, org, policy, report
        self.sends: dict[int, list[dt.datetime]] = defaultdict(list)  # customer -> accepted e-mails
        self.day_sends: Counter[dt.date] = Counter()
        self.seen_messages: set[int] = set()
        self.seen_steps: set[tuple[int, int]] = set()
        self.accepted: dict[int, dt.datetime] = {}

    def judge(self, email: EmailMessage, now: dt.datetime) -> None:
        message = self.session.get(Message, int(email["X-Plixo-Message"]))
        listed = self.session.execute(select(MessageInvoice.invoice_id, MessageInvoice.cadence_step_id)
                                      .where(MessageInvoice.message_id == message.id)).all()
        self._count_duplicates(message, listed)
        invoice_ids = {invoice_id for invoice_id, _ in listed} | ({message.invoice_id} if message.invoice_id else set())
        broken = self._broken_rules(message, sorted(invoice_ids), now)
        for rule in broken:
            self.report.violations_by_rule[rule] += 1
        self.report.violations += bool(broken)
        self.sends[message.customer_id].append(now)
        self.day_sends[now.astimezone(ZoneInfo(self.org.time_zone)).date()] += 1
        self.accepted[message.id] = now

    def _count_duplicates(self, message: Message, listed) -> None:
        pairs = {(invoice_id, step_id) for invoice_id, step_id in listed if step_id is not None}
        if message.id in self.seen_messages or pairs & self.seen_steps:
            self.report.duplicates += 1
        self.seen_messages.add(message.id)
        self.seen_steps |= pairs

    def _broken_rules(self, message: Message, invoice_ids: list[int], now: dt.datetime) -> list[str]:
        today = local_today(self.org.time_zone, now)
        broken = [rule for invoice_id in invoice_ids for rule in self._invoice_rules(invoice_id, today)]
        broken += self._recipient_rules(message, today)
        customer = self.session.get(Customer, message.customer_id)
        local = now.astimezone(ZoneInfo(customer.time_zone or self.org.time_zone))
        if in_quiet_hours(local, self.policy):
            broken.append("quiet_hours")
        if not is_sending_day(local, self.policy):
            broken.append("sending_day")
        if message.cadence_step_id is not None:
            broken += self._touch_rules(message, now)
        if self.day_sends[now.astimezone(ZoneInfo(self.org.time_zone)).date()] >= daily_cap(self.policy):
            broken.append("daily_cap")
        return sorted(set(broken))

    def _invoice_rules(self, invoice_id: int, today: dt.date) -> list[str]:
        invoice = self.session.get(Invoice, invoice_id)
        broken = []
        if invoice.balance_minor <= 0:
            broken.append("paid")
        if invoice.status != "open":
            broken.append(f"invoice_{invoice.status}")
        holds = self.session.scalars(select(Hold.kind).where(
            Hold.released_at.is_(None), or_(Hold.until.is_(None), Hold.until > today),
            or_(Hold.invoice_id == invoice_id, (Hold.customer_id == invoice.customer_id) & Hold.invoice_id.is_(None)),
            Hold.kind != "shadow"))
        broken += [f"hold_{kind}" for kind in holds]
        return broken

    def _recipient_rules(self, message: Message, today: dt.date) -> list[str]:
        contact = self.session.get(Contact, message.contact_id) if message.contact_id else None
        if contact is None:
            return ["no_recipient"]
        broken = []
        if contact.opted_out_at is not None:
            broken.append("opted_out")
        if contact.bounce_kind == "hard":
            broken.append("bounced")
        if contact.suppressed_until is not None and contact.suppressed_until > today:
            broken.append("suppressed")
        return broken

    def _touch_rules(self, message: Message, now: dt.datetime) -> list[str]:
        broken = []
        earlier = self.sends[message.customer_id]
        if earlier and now - max(earlier) < dt.timedelta(hours=self.policy.min_gap_hours):
            broken.append("min_gap")
        if sum(now - t < dt.timedelta(days=7) for t in earlier) >= self.policy.max_touches_per_week:
            broken.append("weekly_cap")
        step = self.session.get(CadenceStep, message.cadence_step_id)
        cadence = self.session.get(Cadence, step.cadence_id) if step else None
        autopilot = cadence is not None and cadence.status == "active" and cadence.segment.mode == "autopilot"
        if not autopilot and message.approved_by_id is None:
            broken.append("shadow_sent")
        return broken


class SimulatedMailServer:
    """The workspace's mail transport: refuses bouncing addresses, sometimes says "try later"."""

    def __init__(self, rng: random.Random, clock: Clock, referee: Referee, bouncing: set[str]):
        self.rng, self.clock, self.referee, self.bouncing = rng, clock, referee, bouncing
        self.count = 0

    def send(self, email: EmailMessage) -> str:
        if email["To"] in self.bouncing:
            raise PermanentFailure("550 5.1.1 No such mailbox", bounce=True)
        if self.rng.random() < TRY_LATER_CHANCE:
            raise TransientFailure("421 4.7.0 Try again later")
        self.referee.judge(email, self.clock.now)
        self.count += 1
        return f"sim-{self.count}"

    def close(self) -> None:
        pass


# --- The world -----------------------------------------------------------------------------------------

@dataclass
class World:
    org: Organization
    user: User
    policy: Policy
    invoice_ids: list[int]
    customer_ids: list[int]
    bouncing: set[str]


def build_world(session: Session, rng: random.Random, invoices: int, start: dt.datetime) -> World:
    """A workspace with customers around the world, overdue and upcoming invoices, and two cadences."""
    suffix = f"{rng.randrange(16**8):08x}"
    org = Organization(name=f"Simulation {suffix}", slug=f"simulation-{suffix}", legal_name="Simulation",
                       time_zone="America/New_York", base_currency="USD", status="active")
    user = User(email=f"controller-{suffix}@simulation.plixo.test", name="Sim Controller", password_hash=NO_SIGN_IN)
    session.add_all([org, user])
    session.flush()
    with tenant_scope(org.id):
        policy = Policy(org_id=org.id, daily_cap_per_mailbox=max(20, invoices // 6), min_gap_hours=48,
                        max_touches_per_week=2)
        session.add_all([policy, Membership(org_id=org.id, user_id=user.id, role="controller")])
        customers, bouncing = _customers(session, rng, org, max(1, invoices // 3))
        invoice_ids = _invoices(session, rng, org, customers, invoices, start)
        ready_sender(session, org, SENDER[1])
        _cadences(session, org, user, start)
        session.commit()
    return World(org, user, policy, invoice_ids, [c.id for c in customers], bouncing)


def _customers(session, rng, org, count) -> tuple[list[Customer], set[str]]:
    customers, bouncing = [], set()
    for n in range(count):
        customer = Customer(org_id=org.id, external_id=f"SIM-{n:05d}", name=f"Payer {n} Ltd",
                            time_zone=rng.choice(ZONES), risk_tier=rng.choice(("low", "low", "medium", "high")))
        session.add(customer)
        customers.append(customer)
    session.flush()
    for customer in customers:
        for k in range(rng.choice((1, 1, 2))):
            email = f"ap{k}@payer{customer.id}.simulation.test"
            session.add(Contact(org_id=org.id, customer_id=customer.id, email=email, is_primary=k == 0,
                                name=f"Payables {k}"))
            if rng.random() < BOUNCING_SHARE:
                bouncing.add(email)
    return customers, bouncing


def _invoices(session, rng, org, customers, count, start) -> list[int]:
    rows = []
    for n in range(count):
        due = start.date() + dt.timedelta(days=rng.randint(-40, 25))
        amount = rng.randint(100, 20_000) * 100
        rows.append(Invoice(org_id=org.id, customer_id=rng.choice(customers).id, number=f"SIM-{n:06d}",
                            issue_date=due - dt.timedelta(days=30), due_date=due, currency="USD",
                            amount_minor=amount, balance_minor=amount, status="open", source="manual"))
    session.add_all(rows)
    session.flush()
    return [invoice.id for invoice in rows]


def ready_sender(session: Session, org: Organization, address: str) -> None:
    """A throwaway workspace's sender that meets the Autopilot gate: a connected inbox whose domain has verified
    records and has warmed up. Simulations and benchmarks hand their own transport to the sender, so no server is
    ever contacted through it."""
    verified = {record: {"state": "verified", "found": "", "expected": ""} for record in ("spf", "dkim", "dmarc")}
    session.add(Connection(org_id=org.id, kind="email", provider="smtp", status="active", display_name=address,
                           external_account_id=address, secrets="{}",
                           settings={"address": address, "display_name": "", "smtp_host": "127.0.0.1",
                                     "smtp_port": 25, "imap_host": "127.0.0.1", "imap_port": 143,
                                     "username": address, "imap_uidvalidity": 0, "imap_last_uid": 0}))
    session.add(SendingDomain(org_id=org.id, domain=address.rsplit("@", 1)[1], dkim_selector="simulated",
                              dkim_private_key="", dkim_public_key="", checks=verified,
                              warmup_cap=WARMED_UP))
    session.flush()


def _cadences(session, org, user, start) -> None:
    autopilot = Segment(org_id=org.id, name="Low and medium risk", rules={"risk_tiers": ["low", "medium"]},
                        mode="autopilot")
    shadow = Segment(org_id=org.id, name="High risk", rules={"risk_tiers": ["high"]}, mode="shadow")
    session.add_all([autopilot, shadow])
    session.flush()
    steps = [StepInput(1, "due_date", "Invoice {invoice_number} is due", "Hello {customer_name}, {amount_due} is due."),
             StepInput(5, "previous_touch", "Reminder: {invoice_number}", "{amount_due} is still open."),
             StepInput(7, "previous_touch", "Overdue: {invoice_number}", "{amount_due}, {days_past_due} days late.")]
    create_cadence(session, org, user, "Standard", autopilot.id, steps, "active", start)
    create_cadence(session, org, user, "High risk (Shadow)", shadow.id, steps[:1], "shadow", start)


# --- Payers ----------------------------------------------------------------------------------------------

class Payers:
    """What payers and collectors do as time passes, drawn from the seeded generator."""

    def __init__(self, session: Session, rng: random.Random, world: World, report: Report, evidence_dir: Path):
        self.session, self.rng, self.world, self.report = session, rng, world, report
        self.evidence_dir = evidence_dir

    def act(self, now: dt.datetime, hours: float) -> None:
        for kind, rate in RATES.items():
            population = self.world.customer_ids if kind in ("opt_out", "suppression") else self.world.invoice_ids
            expected = rate * len(population) * hours
            for _ in range(int(expected) + (self.rng.random() < expected % 1)):
                getattr(self, kind)(self.rng.choice(population), now)
        self.session.commit()

    def _open_invoice(self, invoice_id: int) -> Invoice | None:
        invoice = self.session.get(Invoice, invoice_id)
        return invoice if invoice.status == "open" and invoice.balance_minor > 0 else None

    def payment(self, invoice_id: int, now: dt.datetime, share: float = 1.0) -> None:
        invoice = self._open_invoice(invoice_id)
        if invoice is None:
            return
        amount = max(1, int(invoice.balance_minor * share))
        payment = Payment(org_id=invoice.org_id, customer_id=invoice.customer_id, currency=invoice.currency,
                          amount_minor=amount, refunded_minor=0, unapplied_minor=0, received_at=now,
                          provider="manual", provider_ref=f"sim-{invoice.id}-{now.timestamp():.0f}")
        self.session.add(payment)
        self.session.flush()
        self.session.add(PaymentApplication(org_id=invoice.org_id, payment_id=payment.id, invoice_id=invoice.id,
                                            amount_minor=amount))
        with balance_reason(self.session, Reason("collected", "refunded", "demo", now.date())):
            invoice.balance_minor -= amount
            if invoice.balance_minor == 0:
                invoice.status = "paid"
            self.session.flush()
        self.report.events["payment" if share == 1.0 else "partial_payment"] += 1

    def partial_payment(self, invoice_id: int, now: dt.datetime) -> None:
        self.payment(invoice_id, now, share=self.rng.choice((0.25, 0.5)))

    def promise(self, invoice_id: int, now: dt.datetime) -> None:
        invoice = self._open_invoice(invoice_id)
        contact_id = self.session.scalar(select(Contact.id).where(Contact.customer_id == invoice.customer_id)
                                         .order_by(Contact.is_primary.desc(), Contact.id).limit(1)) if invoice else None
        if invoice is not None:
            promised = local_today(self.world.org.time_zone, now) + dt.timedelta(days=self.rng.randint(2, 10))
            log_promise(self.session, self.world.org, invoice, self.world.user, invoice.balance_minor, promised,
                        contact_id, now)
            self.report.events["promise"] += 1

    def dispute(self, invoice_id: int, now: dt.datetime) -> None:
        invoice = self._open_invoice(invoice_id)
        if invoice is not None:
            open_dispute(self.session, self.world.org, invoice, self.world.user, "pricing", "", None,
                         self.evidence_dir, now)
            self.report.events["dispute"] += 1

    def opt_out(self, customer_id: int, now: dt.datetime) -> None:
        contact = self.session.scalar(select(Contact).where(Contact.customer_id == customer_id,
                                                            Contact.opted_out_at.is_(None)).limit(1))
        if contact is not None:
            contact.opted_out_at = now
            self.session.add(Hold(org_id=contact.org_id, kind="opt_out", customer_id=customer_id,
                                  contact_id=contact.id, reason="Opted out"))
            self.report.events["opt_out"] += 1

    def suppression(self, customer_id: int, now: dt.datetime) -> None:
        invoice = self.session.scalar(select(Invoice).where(Invoice.customer_id == customer_id).limit(1))
        contact_id = self.session.scalar(select(Contact.id).where(Contact.customer_id == customer_id).limit(1))
        if invoice is None or contact_id is None:
            return
        today = local_today(self.world.org.time_zone, now)
        until = today + dt.timedelta(days=self.rng.randint(2, 6))  # reactivated that day
        suppress_contact(self.session, self.world.org, invoice, self.world.user, contact_id, until,
                         "Customer asked for a pause", now)
        self.report.events["suppression"] += 1


# --- The run -----------------------------------------------------------------------------------------------

def simulate(session: Session, days: int = 30, invoices: int = 500, seed: int = 7, start: dt.datetime = START,
             keep: bool = False) -> Report:
    """Run the engine and the sender over `days` of simulated time; the report says what the referee saw."""
    rng = random.Random(seed)
    report = Report(invoices=invoices)
    world = build_world(session, rng, invoices, start)
    clock = Clock(start)
    try:
        with tenant_scope(world.org.id), tempfile.TemporaryDirectory() as evidence:
            referee = Referee(session, world.org, world.policy, report)
            server = SimulatedMailServer(rng, clock, referee, world.bouncing)
            payers = Payers(session, rng, world, report, Path(evidence))
            planned: dict[int, dt.datetime] = {}
            end = start + dt.timedelta(days=days)
            quarter = 0
            while clock.now < end:
                payers.act(clock.now, QUARTER / dt.timedelta(hours=1))
                if quarter % TICK_EVERY == 0:
                    report.drafts += tick(session, world.org, clock.now).drafts
                    session.commit()
                    _note_planned(session, planned)
                _run_sender(session, world.org.id, server, clock.now, rng, report)
                clock.now += QUARTER
                quarter += 1
            _settle(session, world.org.id, server, clock, rng, report)
            _account(session, report, referee, planned, clock.now)
    finally:
        if not keep:
            _remove(session, world)
    return report


def _note_planned(session: Session, planned: dict[int, dt.datetime]) -> None:
    """Remember when the engine first planned each send: on-time is measured against that."""
    for message_id, moment in session.execute(select(Message.id, Message.scheduled_for).where(
            Message.status == "scheduled", Message.cadence_step_id.is_not(None))):
        planned.setdefault(message_id, moment)


def _run_sender(session: Session, org_id: int, server: SimulatedMailServer, now: dt.datetime,
                rng: random.Random, report: Report) -> None:
    """One run of the send job; it may crash at any failpoint, losing its uncommitted work as a process would."""

    def maybe_crash(name: str) -> None:
        if rng.random() < CRASH_CHANCE:
            raise SimulatedCrash(name)

    reconcile_stuck(session, now)
    try:
        with injected(maybe_crash):
            send_leased(session, claim_due(session, now), server, now, SENDER)
    except SimulatedCrash:
        session.rollback()
        report.crashes += 1


def _settle(session, org_id, server, clock: Clock, rng, report) -> None:
    """Let the last leases run out and the last due sends go, with no new events or plans."""
    for _ in range(4):
        clock.now += QUARTER
        _run_sender(session, org_id, server, clock.now, rng, report)


def _account(session: Session, report: Report, referee: Referee, planned: dict[int, dt.datetime],
             end: dt.datetime) -> None:
    """Sort every message into sent, not sent on purpose, flagged, waiting, or lost; and time the touches."""
    session.expire_all()
    rows = session.execute(select(Message.id, Message.status, Message.scheduled_for, Message.cadence_step_id)).all()
    statuses = Counter(status for _id, status, _when, _step in rows)
    report.sent, report.cancelled = statuses["sent"], statuses["cancelled"]
    report.flagged_for_review, report.failed = statuses["review"], statuses["failed"]
    stuck = statuses["sending"] + statuses["delivering"]
    overdue = sum(status == "scheduled" and when <= end - ON_TIME for _id, status, when, _step in rows)
    untracked = sum(status not in ("sent", "review") for message_id, status, _w, _s in rows
                    if message_id in referee.accepted)
    never_accepted = sum(status == "sent" and message_id not in referee.accepted for message_id, status, _w, _s in rows)
    report.lost = stuck + overdue + untracked + never_accepted
    for message_id, status, _when, _step in rows:
        first_plan = planned.get(message_id)
        if first_plan is None or first_plan > end - ON_TIME or status in ("cancelled", "review", "failed", "draft"):
            continue
        report.eligible_touches += 1
        accepted = referee.accepted.get(message_id)
        report.on_time += accepted is not None and accepted - first_plan <= ON_TIME


def _remove(session: Session, world: World) -> None:
    session.rollback()
    session.execute(delete(Organization).where(Organization.id == world.org.id))
    session.execute(delete(User).where(User.id == world.user.id))
    session.commit()
