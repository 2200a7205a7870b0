"""The payer mini-portal's rules: who the payer is, what they owe, and what they may do from their link.

A payer is a customer of one workspace, identified only by a signed portal link (plixo.ledger.payer_links). Every
action goes through the same rules the team uses (validated, audited, stopping outreach where it
must), recorded with source "portal" and the actor "Payer portal (<contact e-mail>)" so the team can tell
what the payer did. Nothing here reaches past the payer's own customer: invoices are always looked up with
the customer's id, and the whole request runs in the workspace's tenant scope.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plixo.accounts.models import Organization
from plixo.actions import ActionError
from plixo.disputes import service as disputes
from plixo.disputes.evidence import EVIDENCE_TYPES
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.disputes.reasons import reason_rule
from plixo.holds import service as holds
from plixo.holds.models import Hold
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.ledger.payer_links import LinkError, PortalClaim
from plixo.payments.checkout import is_payable
from plixo.payments.connector import active_connection
from plixo.promises import plans
from plixo.promises import service as promises
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, Promise
from plixo.promises.plans import Installment

SOURCE = "portal"
SHOWN_STATUSES = ("open", "disputed")  # what the payer still owes, payable now or once a dispute is settled
LIVE_PLAN_STATUSES = ("pending_approval", "accepted")
PLAN_STATUS_LABELS = {"proposed": "Proposed", "pending_approval": "Awaiting approval", "accepted": "Accepted",
                      "rejected": "Not accepted", "cancelled": "Cancelled", "completed": "Completed",
                      "defaulted": "Not kept"}
DISPUTE_STATUS_LABELS = {"needs_review": "Received", "investigating": "Being looked into",
                         "waiting_customer": "Waiting for your reply", "waiting_internal": "Being looked into",
                         "resolved": "Resolved", "withdrawn": "Withdrawn"}
MAX_MESSAGE = 5000
PLANS_SHOWN = 10
REVOKED = "This link is no longer valid. Ask the sender for a new one."
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {magic: kind for magic, kind in EVIDENCE_TYPES.items() if kind[0].startswith("image/")}


@dataclass(frozen=True)
class Payer:
    """Whoever holds a customer's portal link, in its workspace."""

    org: Organization
    customer: Customer
    contact: Contact | None  # where reminders go: the primary deliverable contact, if any

    @property
    def actor(self) -> str:
        """The payer as the audit trail and the team's timeline name them."""
        who = self.contact.email if self.contact is not None and self.contact.email else self.customer.name
        return f"Payer portal ({who})"


def find_payer(session: Session, claim: PortalClaim) -> Payer:
    """The payer a verified link or portal session names; LinkError when the customer is gone or the link revoked.

    Runs in the claim's workspace scope, which the caller enters only once the signature has been checked.
    """
    org = session.get(Organization, claim.org_id)
    customer = session.get(Customer, claim.customer_id) if org is not None else None
    if customer is None or customer.org_id != claim.org_id or customer.portal_version != claim.version:
        raise LinkError(REVOKED)
    return Payer(org, customer, _payer_contact(session, customer))


def _payer_contact(session: Session, customer: Customer) -> Contact | None:
    contacts = session.scalars(select(Contact).where(Contact.org_id == customer.org_id,
                                                     Contact.customer_id == customer.id)
                               .order_by(Contact.is_primary.desc(), Contact.id)).all()
    return next((c for c in contacts if c.deliverable), next((c for c in contacts if c.email), None))


# --- What the payer sees -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceLine:
    invoice: Invoice
    dispute: Dispute | None  # the open dispute on it, if any
    plan: PaymentPlan | None  # the latest plan covering it
    promise: Promise | None  # the pending promise on it

    @property
    def payable(self) -> bool:
        return is_payable(self.invoice)

    @property
    def disputed(self) -> bool:
        return self.dispute is not None or self.invoice.status == "disputed"


@dataclass
class Overview:
    lines: list[InvoiceLine]
    totals: dict[str, int]  # outstanding balance by currency
    plans: list[PaymentPlan]
    disputes: list[Dispute]
    promises: list[Promise]
    opted_out: bool
    numbers: dict[int, str] = field(default_factory=dict)  # invoice id → number, for plans, disputes, promises

    @property
    def payable(self) -> list[Invoice]:
        return [line.invoice for line in self.lines if line.payable]

    @property
    def disputable(self) -> list[Invoice]:
        return [line.invoice for line in self.lines if line.invoice.status == "open"]

    def plan_numbers(self, plan: PaymentPlan) -> str:
        return ", ".join(self.numbers.get(link.invoice_id, "?") for link in plan.invoices)


def overview(session: Session, payer: Payer) -> Overview:
    """The payer's open invoices with their dispute, plan and promise, totals by currency, and earlier requests."""
    org_id, customer_id = payer.org.id, payer.customer.id
    invoices = session.scalars(select(Invoice).where(
        Invoice.org_id == org_id, Invoice.customer_id == customer_id, Invoice.status.in_(SHOWN_STATUSES),
        Invoice.balance_minor > 0).order_by(Invoice.due_date, Invoice.id)).all()
    plans = _plans(session, org_id, customer_id)
    disputes = session.scalars(select(Dispute).where(
        Dispute.org_id == org_id, Dispute.customer_id == customer_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES))
        .order_by(Dispute.opened_at.desc())).all()
    promises = session.scalars(select(Promise).where(
        Promise.org_id == org_id, Promise.customer_id == customer_id, Promise.status == "pending")
        .order_by(Promise.promised_date)).all()
    lines = [InvoiceLine(invoice, next((d for d in disputes if d.invoice_id == invoice.id), None),
                         next((p for p in plans if any(i.invoice_id == invoice.id for i in p.invoices)), None),
                         next((p for p in promises if p.invoice_id == invoice.id), None)) for invoice in invoices]
    totals: dict[str, int] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.balance_minor
    numbers = dict(session.execute(select(Invoice.id, Invoice.number).where(
        Invoice.org_id == org_id, Invoice.customer_id == customer_id)).tuples().all())
    return Overview(lines, totals, plans, list(disputes), list(promises), opted_out(session, payer), numbers)


def _plans(session: Session, org_id: int, customer_id: int) -> list[PaymentPlan]:
    return list(session.scalars(select(PaymentPlan).where(PaymentPlan.org_id == org_id,
                                                          PaymentPlan.customer_id == customer_id)
                                .options(selectinload(PaymentPlan.invoices), selectinload(PaymentPlan.installments))
                                .order_by(PaymentPlan.id.desc()).limit(PLANS_SHOWN)))


def opted_out(session: Session, payer: Payer) -> bool:
    """Whether the payer's customer has switched reminders off."""
    return holds.active_opt_out(session, payer.org.id, payer.customer.id) is not None


def payer_invoice(session: Session, payer: Payer, invoice_id: int | None) -> Invoice | None:
    """One of the payer's own invoices by id; None for any other id (another customer's, another workspace's)."""
    if invoice_id is None:
        return None
    return session.scalar(select(Invoice).where(Invoice.org_id == payer.org.id, Invoice.id == invoice_id,
                                                Invoice.customer_id == payer.customer.id))


# --- What the payer may do ---------------------------------------------------------------------------------

def _require_payable(invoice: Invoice, doing: str) -> None:
    if not is_payable(invoice):
        state = "paid" if invoice.balance_minor <= 0 else invoice.status.replace("_", " ")
        raise ActionError(f"Invoice {invoice.number} is {state}, so you cannot {doing} for it.", "invoice_id")


def propose_plan(session: Session, payer: Payer, invoice: Invoice, installments: list[Installment],
                 now: dt.datetime) -> PaymentPlan:
    """The payer's plan for one invoice: accepted at once within the workspace's policy, else sent for approval."""
    _require_payable(invoice, "propose a plan")
    live = session.scalar(select(PaymentPlan).join(
        PaymentPlanInvoice, (PaymentPlanInvoice.plan_id == PaymentPlan.id)
        & (PaymentPlanInvoice.org_id == PaymentPlan.org_id))
        .where(PaymentPlan.org_id == payer.org.id, PaymentPlanInvoice.invoice_id == invoice.id,
               PaymentPlan.status.in_(LIVE_PLAN_STATUSES)).limit(1))
    if live is not None:
        raise ActionError(f"Invoice {invoice.number} already has a plan that is "
                          f"{PLAN_STATUS_LABELS[live.status].lower()}.", "invoice_id")
    return plans.propose_plan(session, payer.org, invoice, payer.actor, installments, now, source=SOURCE)


def open_dispute(session: Session, payer: Payer, invoice: Invoice, reason: str, message: str,
                 evidence: tuple[str, bytes] | None, evidence_dir: Path, now: dt.datetime) -> Dispute:
    """The payer disputes an invoice: reminders about it stop and the team gets the reason, message and evidence."""
    if invoice.status == "disputed":
        raise ActionError(f"Invoice {invoice.number} is already disputed; the team is looking into it.", "invoice_id")
    if reason_rule(session, payer.org.id, reason) is None:
        raise ActionError("Choose what is wrong with the invoice.", "reason")
    if not message.strip():
        raise ActionError("Tell us what is wrong, so the team can put it right.", "message")
    if len(message) > MAX_MESSAGE:
        raise ActionError(f"Keep the message under {MAX_MESSAGE:,} characters.", "message")
    return disputes.open_dispute(session, payer.org, invoice, payer.actor, reason, message, evidence, evidence_dir,
                                now, source=SOURCE)


def log_promise(session: Session, payer: Payer, invoice: Invoice, amount_minor: int | None,
                promised_date: dt.date | None, now: dt.datetime) -> Promise:
    """The payer promises to pay (part of) an invoice by a date; it replaces an earlier pending promise on it."""
    _require_payable(invoice, "promise a payment")
    if amount_minor is None:
        raise ActionError("Enter the amount you will pay.", "amount")
    if promised_date is None:
        raise ActionError("Choose the date you will pay by.", "promised_date")
    contact_id = payer.contact.id if payer.contact is not None else None
    return promises.log_promise(session, payer.org, invoice, payer.actor, amount_minor, promised_date, contact_id,
                               now, source=SOURCE)


def opt_out(session: Session, payer: Payer, now: dt.datetime) -> Hold:
    """The payer asks for no more reminders (a stopping condition for all the customer's invoices)."""
    return holds.record_opt_out(session, payer.org, payer.customer, payer.actor,
                                  f"{payer.actor}: no more payment reminders by e-mail", now)


def pays_online(session: Session, payer: Payer) -> bool:
    """Whether the workspace takes card payments now (an active Stripe connection): else the portal offers no
    Pay button and shows how to pay by bank transfer instead."""
    return active_connection(session, payer.org.id) is not None


def no_online_payment(payer: Payer) -> str:
    """The refusal a pay request gets while the workspace takes no card payments."""
    how = ("Pay by bank transfer with the details on this page." if (payer.org.remittance_details or "").strip()
           else f"Please contact {payer.org.name} to pay.")
    return f"Online payment is not available: {payer.org.name} does not take online payments yet. {how}"


# --- Branding ----------------------------------------------------------------------------------------------

def brand_color(org: Organization) -> str | None:
    """The workspace's accent colour when it is a plain #rrggbb value (anything else is ignored, never echoed)."""
    return org.brand_color if org.brand_color and _COLOR.match(org.brand_color) else None


def readable_ink(color: str) -> str:
    """Black or white text, whichever reads better on `color` (WCAG relative luminance)."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111827" if luminance > 0.4 else "#ffffff"


def logo_file(org: Organization, upload_dir: Path) -> tuple[Path, str] | None:
    """The workspace logo (a PNG or JPEG kept under UPLOAD_DIR) and its type; None when unset or not such a file."""
    if not org.logo_path:
        return None
    root = upload_dir.resolve()
    path = (root / org.logo_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(8)
    kind = next((kind for magic, kind in LOGO_TYPES.items() if head.startswith(magic)), None)
    return (path, kind[0]) if kind else None
