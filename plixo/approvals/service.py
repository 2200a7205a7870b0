"""Requests that need a decision: asking for one (a plan above policy, a write-off), deciding it, and carrying
out what the decision lets continue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, Policy, User
from plixo.accounts.notifications import notify, page_for_role, role_of
from plixo.accounts.service import policy_of
from plixo.actions import ActionError, Actor, user_id
from plixo.approvals import routing
from plixo.approvals.cards import OWN_REQUEST, card_of
from plixo.approvals.models import Approval
from plixo.ledger.balances import WRITTEN_OFF, balance_reason
from plixo.ledger.models import Invoice
from plixo.model import Base
from plixo.money import format_money
from plixo.outreach.sends import cancel_pending_sends
from plixo.promises.models import PaymentPlan


def request_approval(session: Session, org: Organization, actor: Actor, kind: str, subject: Base,
                     amount_minor: int, currency: str, policy: Policy, reason: str,
                     source: str = "operator") -> Approval:
    """Route a request to the policy's approver (audited); it waits for a decision."""
    approval = Approval(org_id=org.id, kind=kind, subject_type=type(subject).__name__, subject_id=subject.id,
                        currency=currency, amount_minor=amount_minor, approver_role=policy.approver_role,
                        requested_by_id=user_id(actor), reason=reason, source=source)
    session.add(approval)
    session.flush()
    audit.record(session, org_id=org.id, actor=actor, action="approvals.requested", subject=approval,
                 after={"kind": kind, "amount_minor": amount_minor})
    return approval


def request_write_off(session: Session, org: Organization, invoice: Invoice, user: User, reason: str,
                      now: dt.datetime) -> Approval:
    """Ask to write off the balance; a write-off always waits for the approver's decision."""
    if not reason.strip():
        raise ActionError("Say why the balance should be written off.", "reason")
    if invoice.status not in ("open", "disputed") or invoice.balance_minor <= 0:
        raise ActionError("Only an invoice with an open balance can be written off.")
    pending = session.scalar(select(Approval).where(Approval.org_id == org.id, Approval.kind == "write_off",
                                                    Approval.subject_type == "Invoice",
                                                    Approval.subject_id == invoice.id, Approval.status == "pending"))
    if pending is not None:
        raise ActionError("A write-off of this invoice is already awaiting approval.")
    policy = policy_of(session, org.id)
    approval = request_approval(session, org, user, "write_off", invoice, invoice.balance_minor, invoice.currency,
                                policy, reason.strip()[:2000])
    if invoice.balance_minor > policy.writeoff_approval_minor:
        approval.approver_role = "legal"  # large write-offs are Legal's call, whoever approves the rest
    return approval


def request_credit(session: Session, org: Organization, invoice: Invoice, user: User, amount_minor: int | None,
                   reason: str) -> Approval | None:
    """A credit or adjustment agreed with the payer: above the policy's credit limit it waits for the approver (None
    when it is within the limit and needs nobody's approval)."""
    if amount_minor is None or amount_minor <= 0:
        raise ActionError("Enter the amount to credit.", "credit")
    if amount_minor > invoice.amount_minor:
        billed = format_money(invoice.amount_minor, invoice.currency)
        raise ActionError(f"A credit cannot exceed the invoice's {billed}.", "credit")
    policy = policy_of(session, org.id)
    if amount_minor <= policy.credit_approval_minor:
        return None
    return request_approval(session, org, user, "credit", invoice, amount_minor, invoice.currency, policy,
                            reason.strip()[:2000])


def decide_approval(session: Session, org: Organization, approval: Approval, user: User, role: str,
                    approve: bool, comment: str, now: dt.datetime) -> Approval:
    """Approve or reject a pending request the decider may decide (see routing); the requester is notified
    either way, with the customer and invoices it concerns and a link to a page they may open."""
    if approval.status != "pending":
        raise ActionError("This request has already been decided.")
    refused = routing.refusal(role, approval.approver_role, routing.deciding_roles(session, org.id))
    if refused is not None:
        raise ActionError(refused)
    if approval.requested_by_id == user.id and routing.someone_else_decides(session, org.id, approval.approver_role,
                                                                             user.id):
        raise ActionError(OWN_REQUEST)
    if not approve and not comment.strip():
        raise ActionError("Say why the request is rejected.", "comment")
    card = card_of(session, org.id, approval, role)  # read before carrying out: a write-off closes the invoice
    approval.status = "approved" if approve else "rejected"
    approval.decided_by_id, approval.decided_at = user.id, now
    _carry_out(session, org, approval, user, approve, now)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action=f"approvals.{approval.status}", subject=approval,
                 after={"kind": approval.kind, "subject": f"{approval.subject_type} {approval.subject_id}"},
                 reason=comment.strip())
    if approval.requested_by_id and approval.requested_by_id != user.id:
        requester = session.get(User, approval.requested_by_id)
        verdict = "approved" if approve else "rejected"
        about = f" for {card.about}" if card.about else ""
        notify(session, org.id, requester, "approval_decided",
               f"{user.name} {verdict} your {approval.kind.replace('_', ' ')} request{about}"
               + (f": {comment.strip()}" if comment.strip() else ""), decision_link(session, org, approval, requester))
    return approval


def decision_link(session: Session, org: Organization, approval: Approval, requester: User) -> str | None:
    """Where the requester reads what was decided: the invoice in the queue for a collector, else the customer
    page at the approval (Sales and CSM propose plans but cannot open the queue)."""
    customer_id, invoice_id = approval_customer_and_invoice(session, approval)
    if customer_id is None:
        return None
    return page_for_role(role_of(session, org.id, requester.id), customer_id, invoice_id, f"approval-{approval.id}")


def approval_customer_and_invoice(session: Session, approval: Approval) -> tuple[int | None, int | None]:
    """The customer an approval concerns, and its (first) invoice, from its Invoice, PaymentPlan or Customer."""
    if approval.subject_type == "Invoice":
        invoice = session.get(Invoice, approval.subject_id)
        return (invoice.customer_id, invoice.id) if invoice else (None, None)
    if approval.subject_type == "PaymentPlan":
        plan = session.get(PaymentPlan, approval.subject_id)
        if plan is None:
            return None, None
        invoice_ids = sorted(link.invoice_id for link in plan.invoices)
        return plan.customer_id, invoice_ids[0] if invoice_ids else None
    if approval.subject_type == "Customer":
        return approval.subject_id, None
    return None, None


def _carry_out(session: Session, org: Organization, approval: Approval, user: User, approve: bool,
               now: dt.datetime) -> None:
    """What an approval lets continue, or sends back."""
    if approval.kind == "payment_plan":
        plan = session.get(PaymentPlan, approval.subject_id)
        if plan is not None:
            plan.status, plan.decided_at = ("accepted" if approve else "rejected"), now
            if approve:
                invoice_ids = [link.invoice_id for link in plan.invoices]
                cancel_pending_sends(session, org.id, invoice_ids, user, "Payment plan accepted")
    elif approval.kind == "write_off" and approve:
        invoice = session.get(Invoice, approval.subject_id)
        if invoice is not None and invoice.status in ("open", "disputed"):
            before = {"status": invoice.status, "balance_minor": invoice.balance_minor}
            with balance_reason(session, WRITTEN_OFF):
                invoice.status, invoice.closed_at = "written_off", now
                session.flush()
            cancel_pending_sends(session, org.id, [invoice.id], user, "Written off")
            audit.record(session, org_id=org.id, actor=user, action="queue.written_off", subject=invoice,
                         before=before, after={"status": "written_off"})
