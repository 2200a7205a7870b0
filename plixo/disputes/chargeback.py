"""A card chargeback's evidence, sent to Stripe once before the issuer's deadline.

Stripe's dispute evidence has one file per field and takes text beside it; the issuer accepts a submission once.
So what will be sent is worked out in full first (`evidence_plan`, also what the inspector shows), every refusal is
checked before anything leaves Plixo, the files are uploaded to the connected account, and the dispute is updated
once with `submit=true`. The outcome arrives later by webhook (payments.apply).

Where each evidence slot goes, by Stripe's description of its fields (the first field still free is used, then
`uncategorized_file`):

    proof_of_delivery  shipping_documentation   proof the goods reached the payer
    contract           service_documentation    "a signed contract, work order, or other written agreement"
    signed_po          customer_signature       a document bearing the customer's signature
    correspondence     customer_communication   e-mails showing the payer received or accepted what was billed
    payment_proof      receipt                  what the payer was sent about the charge
    credit_note        uncategorized_file       a credit is no refund policy: no specific field fits
    other              uncategorized_file

Text: `customer_name`, `customer_email_address` (the primary contact's), `product_description` (the invoice) and
`uncategorized_text` (the invoice, the resolution note and what the dispute says).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError, Actor
from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.connectors.stripe import credentials_of
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute, DisputeEvidence
from plixo.integrations import stripe_gateway as gateway
from plixo.integrations.stripe_gateway import StripeProblemError
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.money import format_money

SUBMITTED = "disputes.chargeback_evidence_submitted"
FALLBACK_FIELD = "uncategorized_file"
SLOT_FIELDS = {
    "proof_of_delivery": ("shipping_documentation",),
    "contract": ("service_documentation", "customer_signature"),
    "signed_po": ("customer_signature", "service_documentation"),
    "correspondence": ("customer_communication",),
    "payment_proof": ("receipt",),
    "credit_note": (),
    "other": (),
}
FIELD_LABELS = {
    "shipping_documentation": "Shipping documentation", "service_documentation": "Service documentation",
    "customer_signature": "Customer signature", "customer_communication": "Customer communication",
    "receipt": "Receipt", "uncategorized_file": "Other evidence (file)",
}
TEXT_LIMIT = 20_000  # characters Stripe takes in one text field
SUBMITTABLE_CONNECTIONS = ("active", "error")  # "error": charges disabled, yet the account still answers disputes


@dataclass(frozen=True)
class EvidencePlan:
    files: list[tuple[DisputeEvidence, str]]  # each file with the Stripe field it goes to
    left_out: list[DisputeEvidence]  # more files than Stripe has fields for them
    text: dict[str, str]


@dataclass(frozen=True)
class ChargebackPanel:
    """What the inspector shows of a chargeback: the deadline, what goes (or went) to which Stripe field, and why
    it cannot be sent now, if so."""

    deadline: dt.datetime | None
    submitted_at: dt.datetime | None
    files: list[tuple[str, str]]  # (file name, Stripe field's label)
    left_out: list[str]
    text_fields: list[str]
    refusal: str | None


def is_stripe_chargeback(dispute: Dispute) -> bool:
    return dispute.source == "stripe" and bool(dispute.stripe_dispute_id)


def evidence_plan(session: Session, dispute: Dispute) -> EvidencePlan:
    """The files and text a submission would send now, and the files it could not place."""
    placed: dict[str, DisputeEvidence] = {}
    left_out = []
    for evidence in _files_in_order(session, dispute):
        free = [f for f in (*SLOT_FIELDS.get(evidence.slot, ()), FALLBACK_FIELD) if f not in placed]
        if free:
            placed[free[0]] = evidence
        else:
            left_out.append(evidence)
    return EvidencePlan([(evidence, field) for field, evidence in placed.items()], left_out,
                        _text_fields(session, dispute))


def _files_in_order(session: Session, dispute: Dispute) -> list[DisputeEvidence]:
    # Strongest slots claim their fields first; within a slot the newest file first, since files cannot be
    # removed and a file uploaded again is meant to replace the earlier one.
    rank = {slot: index for index, slot in enumerate(SLOT_FIELDS)}
    files = session.scalars(select(DisputeEvidence).where(DisputeEvidence.org_id == dispute.org_id,
                                                          DisputeEvidence.dispute_id == dispute.id))
    return sorted(files, key=lambda f: (rank.get(f.slot, len(rank)), -f.id))


def _text_fields(session: Session, dispute: Dispute) -> dict[str, str]:
    invoice = session.get(Invoice, dispute.invoice_id)
    customer = session.get(Customer, dispute.customer_id)
    billed = (f"Invoice {invoice.number} for {format_money(invoice.amount_minor, invoice.currency)}, issued "
              f"{invoice.issue_date:%d %b %Y}, due {invoice.due_date:%d %b %Y}.")
    notes = [billed, dispute.resolution_note.strip(), dispute.description.strip()]
    text = {"customer_name": customer.name, "product_description": billed,
            "uncategorized_text": "\n\n".join(n for n in notes if n)}
    email = _primary_email(session, customer)
    if email:
        text["customer_email_address"] = email
    return {field: value[:TEXT_LIMIT] for field, value in text.items() if value}


def _primary_email(session: Session, customer: Customer) -> str | None:
    return session.scalar(select(Contact.email).where(
        Contact.org_id == customer.org_id, Contact.customer_id == customer.id, Contact.email.is_not(None))
        .order_by(Contact.is_primary.desc(), Contact.id).limit(1))


TEXT_LABELS = {"customer_name": "Customer name", "customer_email_address": "Customer e-mail",
               "product_description": "Product description", "uncategorized_text": "Other evidence (text)"}


def chargeback_panel(session: Session, dispute: Dispute, now: dt.datetime) -> ChargebackPanel | None:
    """The inspector's chargeback panel; None for a dispute that is not a Stripe chargeback."""
    if not is_stripe_chargeback(dispute):
        return None
    if dispute.evidence_submitted_at is not None:
        sent = _submission_record(session, dispute)
        files = [(name, FIELD_LABELS.get(field, field)) for field, name in sent.get("files", {}).items()]
        return ChargebackPanel(dispute.sla_due_at, dispute.evidence_submitted_at, files, sent.get("left_out", []),
                               [], None)
    plan = evidence_plan(session, dispute)
    return ChargebackPanel(dispute.sla_due_at, None,
                           [(evidence.filename, FIELD_LABELS[field]) for evidence, field in plan.files],
                           [evidence.filename for evidence in plan.left_out],
                           [TEXT_LABELS[field] for field in plan.text], refusal(session, dispute, now))


def _submission_record(session: Session, dispute: Dispute) -> dict:
    """What the submission sent, as its audit record kept it (files attached later were never sent)."""
    return session.scalar(select(AuditEvent.after).where(
        AuditEvent.org_id == dispute.org_id, AuditEvent.subject_type == "Dispute", AuditEvent.subject_id == dispute.id,
        AuditEvent.action == SUBMITTED).order_by(AuditEvent.id.desc()).limit(1)) or {}


def stripe_connection(session: Session, org_id: int) -> Connection | None:
    """The workspace's Stripe connection when it can still act on the account."""
    connection = session.scalar(select(Connection).where(Connection.org_id == org_id, Connection.kind == "stripe",
                                                         Connection.provider == "stripe"))
    return connection if connection is not None and connection.status in SUBMITTABLE_CONNECTIONS else None


def refusal(session: Session, dispute: Dispute, now: dt.datetime) -> str | None:
    """Why the evidence cannot go to Stripe now, or None when it can."""
    if not is_stripe_chargeback(dispute):
        return "Only a card chargeback from Stripe has evidence to send to Stripe."
    if dispute.evidence_submitted_at is not None:
        return "The evidence was already sent to Stripe, which accepts it once. The outcome will follow."
    if dispute.status not in OPEN_DISPUTE_STATUSES:
        return "This chargeback is closed; Stripe no longer takes evidence for it."
    if dispute.sla_due_at is not None and now >= dispute.sla_due_at:
        return "The deadline for this chargeback's evidence has passed; Stripe no longer takes it."
    if stripe_connection(session, dispute.org_id) is None:
        return "Stripe is not connected. Connect it in Admin → Connectors, then send the evidence."
    if not evidence_plan(session, dispute).files:
        return "Attach at least one file (proof of delivery, a contract, correspondence…) before sending."
    return None


def submit_chargeback_evidence(session: Session, org: Organization, dispute: Dispute, actor: Actor, root: Path,
                               now: dt.datetime) -> EvidencePlan:
    """Upload the chargeback's files to Stripe and submit them with its text, once, before the deadline."""
    _lock(session, dispute)
    reason = refusal(session, dispute, now)
    if reason:
        raise ActionError(reason)
    plan = evidence_plan(session, dispute)
    contents = [(evidence, field, _read(evidence, root)) for evidence, field in plan.files]
    credentials = credentials_of(stripe_connection(session, org.id))
    try:
        fields = {field: gateway.upload_dispute_evidence(credentials, evidence.filename, data)
                  for evidence, field, data in contents}
        gateway.submit_dispute_evidence(credentials, dispute.stripe_dispute_id, {**plan.text, **fields})
    except StripeProblemError as problem:
        raise ActionError(str(problem)) from problem
    dispute.evidence_submitted_at = now
    sent = {"stripe_dispute": dispute.stripe_dispute_id, "files": {field: e.filename for e, field in plan.files},
            "left_out": [e.filename for e in plan.left_out]}
    audit.record(session, org_id=org.id, actor=actor, action=SUBMITTED, subject=dispute, after=sent)
    session.flush()
    return plan


def _lock(session: Session, dispute: Dispute) -> None:
    # Two people pressing Submit together: the second waits here, then finds the evidence already sent, instead
    # of reaching Stripe with a second submission.
    session.scalar(select(Dispute).where(Dispute.id == dispute.id).with_for_update()
                   .execution_options(populate_existing=True))


def _read(evidence: DisputeEvidence, root: Path) -> bytes:
    path = Path(evidence.storage_path).resolve()
    # Only files the dispute actions stored under the evidence folder are sent anywhere.
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise ActionError(f"The file {evidence.filename} is missing from storage. Upload it again, then send.")
    return path.read_bytes()

