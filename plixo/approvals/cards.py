"""Pending requests as cards a decider can judge without opening anything: the customer, the invoice(s), what is
asked (a plan's installments, a write-off's amount and reason, a discount, a message's subject), who asked and
when, the role it is routed to, and whether this person may decide it.

A fixed handful of queries whatever the number of cards: the requests with their requesters, then each kind of
subject in one query (invoices, plans with their invoices and installments, messages), and the active roles once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import User
from plixo.approvals import routing
from plixo.approvals.models import Approval
from plixo.ledger.models import Customer, Invoice
from plixo.money import format_money
from plixo.outreach.models import Message
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment
from plixo.security import ROLES

MOST_CARDS = 100
KIND_LABELS = {"payment_plan": "Payment plan", "write_off": "Write-off", "credit": "Credit", "discount": "Discount",
               "message": "Message"}


@dataclass(frozen=True)
class InvoiceRef:
    id: int
    number: str
    balance_minor: int
    currency: str


@dataclass(frozen=True)
class InstallmentLine:
    due_date: dt.date
    amount_minor: int


@dataclass
class ApprovalCard:
    """One pending request, as its card shows it."""

    id: int
    kind: str
    currency: str | None
    amount_minor: int | None
    reason: str
    requester: str
    created_at: dt.datetime
    routed_role: str
    customer_id: int | None = None
    customer_name: str = ""
    invoices: list[InvoiceRef] = field(default_factory=list)
    installments: list[InstallmentLine] = field(default_factory=list)
    subject_line: str = ""  # a message's subject
    refusal: str | None = None  # why this viewer may not decide it (None: they may)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def routed_label(self) -> str:
        """"for Legal", "for Controller"."""
        return "for " + routing.role_label(self.routed_role)

    def age(self, now: dt.datetime) -> str:
        return age_phrase(self.created_at, now)

    @property
    def decidable(self) -> bool:
        return self.refusal is None

    @property
    def invoice_id(self) -> int | None:
        """The invoice the card's link opens (a plan's first)."""
        return self.invoices[0].id if self.invoices else None

    @property
    def invoice_numbers(self) -> str:
        return ", ".join(ref.number for ref in self.invoices)

    @property
    def percent(self) -> float | None:
        """A discount or credit as a share of the invoice's open balance."""
        if self.amount_minor is None or len(self.invoices) != 1 or self.invoices[0].balance_minor <= 0:
            return None
        return self.amount_minor / self.invoices[0].balance_minor

    @property
    def summary(self) -> str:
        """What is asked, in one line (also the notification's subject)."""
        amount = format_money(self.amount_minor, self.currency) if self.amount_minor is not None and self.currency \
            else ""
        if self.kind == "payment_plan":
            return f"Plan of {len(self.installments)} installments, {amount} in total"
        if self.kind == "write_off":
            return f"Write off {amount}"
        if self.kind in ("discount", "credit"):
            share = f" ({self.percent:.0%} of the balance)" if self.percent is not None else ""
            return f"{self.kind_label} of {amount}{share}"
        if self.kind == "message":
            return f"Send “{self.subject_line}”" if self.subject_line else "Send a message"
        return f"{self.kind_label} {amount}".strip()

    @property
    def about(self) -> str:
        """Whose account and which invoices: "Globex Corp · INV-1001, INV-1002"."""
        return " · ".join(part for part in (self.customer_name, self.invoice_numbers) if part)


def age_phrase(then: dt.datetime, now: dt.datetime) -> str:
    """How long ago, as people say it: "just now", "12 min ago", "3 h ago", "2 days ago"."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86_400
    return "1 day ago" if days == 1 else f"{days} days ago"


def pending_cards(session: Session, org_id: int, viewer_role: str, viewer_id: int | None = None) -> list[ApprovalCard]:
    """The pending requests this role sees as cards (see routing for who sees what): those this role decides first,
    then those awaiting another role, each oldest first. The viewer's own requests wait for another approver."""
    query = (select(Approval, User.name).outerjoin(User, User.id == Approval.requested_by_id)
             .where(Approval.org_id == org_id, Approval.status == "pending"))
    if viewer_role != routing.CONTROLLER:
        query = query.where(Approval.approver_role == viewer_role)
    rows = session.execute(query.order_by(Approval.created_at, Approval.id).limit(MOST_CARDS)).all()
    cards = cards_for(session, org_id, viewer_role, [(approval, name) for approval, name in rows])
    if viewer_id is not None:
        _leave_own_requests_to_others(session, org_id, viewer_id, rows, cards)
    return sorted(cards, key=lambda card: not card.decidable)  # stable: oldest first within each


def _leave_own_requests_to_others(session: Session, org_id: int, viewer_id: int, rows, cards) -> None:
    others: dict[str, bool] = {}  # routed role -> someone else may decide it (asked once per role)
    for (approval, _name), card in zip(rows, cards, strict=True):
        if card.decidable and approval.requested_by_id == viewer_id:
            if approval.approver_role not in others:
                others[approval.approver_role] = routing.someone_else_decides(session, org_id,
                                                                              approval.approver_role, viewer_id)
            if others[approval.approver_role]:
                card.refusal = OWN_REQUEST


OWN_REQUEST = "You asked for this, so another approver decides it."


def waiting_for(cards: list[ApprovalCard]) -> int:
    """How many of the cards wait for this person's decision (the navigation's count)."""
    return sum(1 for card in cards if card.decidable)


def card_of(session: Session, org_id: int, approval: Approval, viewer_role: str) -> ApprovalCard:
    """One request's card (for a notification's text, or a card shown alone)."""
    name = session.scalar(select(User.name).where(User.id == approval.requested_by_id)) \
        if approval.requested_by_id else None
    return cards_for(session, org_id, viewer_role, [(approval, name)])[0]


def cards_for(session: Session, org_id: int, viewer_role: str,
              rows: list[tuple[Approval, str | None]]) -> list[ApprovalCard]:
    present = routing.deciding_roles(session, org_id) if rows else set()
    cards = [_bare_card(approval, name, viewer_role, present) for approval, name in rows]
    subjects = defaultdict(list)
    for (approval, _name), card in zip(rows, cards, strict=True):
        subjects[approval.subject_type].append((approval.subject_id, card))
    _fill_invoices(session, org_id, subjects.get("Invoice", []))
    _fill_plans(session, org_id, subjects.get("PaymentPlan", []))
    _fill_messages(session, org_id, subjects.get("Message", []))
    return cards


def _bare_card(approval: Approval, requester_name: str | None, viewer_role: str, present: set[str]) -> ApprovalCard:
    if requester_name:
        requester = requester_name
    elif approval.requested_in_portal:
        requester = "The payer, in the portal"
    else:
        requester = "Someone no longer in the workspace"
    return ApprovalCard(id=approval.id, kind=approval.kind, currency=approval.currency,
                        amount_minor=approval.amount_minor, reason=approval.reason, requester=requester,
                        created_at=approval.created_at, routed_role=approval.approver_role,
                        refusal=routing.refusal(viewer_role, approval.approver_role, present))


def _invoice_rows(session: Session, org_id: int, where) -> list:
    return session.execute(
        select(Invoice.id, Invoice.number, Invoice.balance_minor, Invoice.currency, Customer.id.label("customer_id"),
               Customer.name.label("customer_name"))
        .join(Customer, Customer.id == Invoice.customer_id).where(Invoice.org_id == org_id, where)).all()


def _ref(row) -> InvoiceRef:
    return InvoiceRef(row.id, row.number, row.balance_minor, row.currency)


def _fill_invoices(session: Session, org_id: int, wanted: list[tuple[int, ApprovalCard]]) -> None:
    if not wanted:
        return
    by_id = {row.id: row for row in _invoice_rows(session, org_id, Invoice.id.in_({i for i, _ in wanted}))}
    for invoice_id, card in wanted:
        row = by_id.get(invoice_id)
        if row is not None:
            card.customer_id, card.customer_name, card.invoices = row.customer_id, row.customer_name, [_ref(row)]


def _fill_plans(session: Session, org_id: int, wanted: list[tuple[int, ApprovalCard]]) -> None:
    if not wanted:
        return
    plan_ids = {i for i, _ in wanted}
    plans = {plan.id: plan for plan in session.execute(
        select(PaymentPlan.id, PaymentPlan.customer_id, Customer.name.label("customer_name"))
        .join(Customer, Customer.id == PaymentPlan.customer_id)
        .where(PaymentPlan.org_id == org_id, PaymentPlan.id.in_(plan_ids)))}
    invoices = defaultdict(list)
    for row in session.execute(
            select(PaymentPlanInvoice.plan_id, Invoice.id, Invoice.number, Invoice.balance_minor, Invoice.currency)
            .join(Invoice, Invoice.id == PaymentPlanInvoice.invoice_id)
            .where(PaymentPlanInvoice.org_id == org_id, PaymentPlanInvoice.plan_id.in_(plan_ids))
            .order_by(Invoice.due_date, Invoice.id)):
        invoices[row.plan_id].append(_ref(row))
    installments = defaultdict(list)
    for row in session.execute(
            select(PlanInstallment.plan_id, PlanInstallment.due_date, PlanInstallment.amount_minor)
            .where(PlanInstallment.org_id == org_id, PlanInstallment.plan_id.in_(plan_ids))
            .order_by(PlanInstallment.due_date)):
        installments[row.plan_id].append(InstallmentLine(row.due_date, row.amount_minor))
    for plan_id, card in wanted:
        plan = plans.get(plan_id)
        if plan is not None:
            card.customer_id, card.customer_name = plan.customer_id, plan.customer_name
        card.invoices, card.installments = invoices.get(plan_id, []), installments.get(plan_id, [])


def _fill_messages(session: Session, org_id: int, wanted: list[tuple[int, ApprovalCard]]) -> None:
    if not wanted:
        return
    messages = {row.id: row for row in session.execute(
        select(Message.id, Message.subject, Message.invoice_id, Customer.id.label("customer_id"),
               Customer.name.label("customer_name"))
        .join(Customer, Customer.id == Message.customer_id)
        .where(Message.org_id == org_id, Message.id.in_({i for i, _ in wanted})))}
    invoice_ids = {row.invoice_id for row in messages.values() if row.invoice_id}
    refs = {row.id: _ref(row) for row in _invoice_rows(session, org_id, Invoice.id.in_(invoice_ids))} \
        if invoice_ids else {}
    for message_id, card in wanted:
        row = messages.get(message_id)
        if row is not None:
            card.customer_id, card.customer_name, card.subject_line = row.customer_id, row.customer_name, row.subject
            card.invoices = [refs[row.invoice_id]] if row.invoice_id in refs else []


def waiting_count(session: Session, org_id: int, viewer_role: str) -> int:
    """How many pending requests wait for this role's decision, counted without building cards (the navigation)."""
    present = routing.deciding_roles(session, org_id)
    routed_here = [role for role in {viewer_role, *ROLES} if routing.refusal(viewer_role, role, present) is None]
    return session.scalar(select(func.count()).select_from(Approval).where(
        Approval.org_id == org_id, Approval.status == "pending", Approval.approver_role.in_(routed_here))) or 0
