"""One row of every tenant table for a workspace, each carrying a marker string that must never leak."""

from __future__ import annotations

from sqlalchemy import select

from plixo import audit
from plixo.extensions import db
from plixo.model import utcnow
from plixo.models import (
    Approval,
    BalanceChange,
    Cadence,
    CadenceStep,
    CheckoutSession,
    Connection,
    DailySnapshot,
    Dispute,
    DisputeEvidence,
    DisputeInvoice,
    DisputeReason,
    ExchangeRate,
    Hold,
    ImportIssue,
    ImportRun,
    Message,
    MessageInvoice,
    Note,
    NoteMention,
    Notification,
    Payment,
    PaymentApplication,
    PaymentPlan,
    PaymentPlanInvoice,
    PlanInstallment,
    Promise,
    Reply,
    Segment,
    SendingDomain,
    WebhookEvent,
    WeeklyDigest,
)
from plixo.tenancy import tenant_scope
from tests.factories import (
    make_contact,
    make_customer,
    make_invite,
    make_invoice,
    make_org,
    make_user,
    membership_of,
    workspace_today,
)


def populate_workspace(marker: str) -> dict[str, object]:
    """A workspace with a row in every tenant table (plus a webhook event), all tagged with `marker`."""
    org = make_org(name=f"{marker} Org")
    user = make_user(org, "controller", name=f"{marker} Controller", email=f"{marker.lower()}@{marker.lower()}.example")
    rows: dict[str, object] = {"organization": org, "user": user, "membership": membership_of(user)}
    with tenant_scope(org.id):
        rows["invite"] = make_invite(org, user, email=f"invitee@{marker.lower()}.example")
        customer = rows["customer"] = make_customer(org, name=f"{marker} Customer", external_id=f"{marker}-C1")
        contact = rows["contact"] = make_contact(customer, email=f"ap@{marker.lower()}-customer.example")
        invoice = rows["invoice"] = make_invoice(org, customer, number=f"{marker}-INV-1")
        rows.update(_ledger_rows(org, customer, invoice))
        db.session.flush()  # the invoice's billing is recorded as it is written
        rows["balance_change"] = db.session.scalar(select(BalanceChange).where(BalanceChange.invoice_id == invoice.id))
        rows.update(_queue_rows(org, user, customer, contact, invoice, marker))
        rows.update(_outreach_rows(org, customer, contact, invoice, marker))
        rows.update(_other_rows(org, user, invoice, customer, marker))
        db.session.flush()
        audit.record(db.session, org_id=org.id, actor=user, action="test.marker", subject=invoice, reason=marker)
        db.session.flush()
    return rows


def _add(**named):
    db.session.add_all(named.values())
    db.session.flush()
    return named


def _ledger_rows(org, customer, invoice):
    payment = _add(payment=Payment(org_id=org.id, customer_id=customer.id, currency="USD", amount_minor=100,
                                   received_at=utcnow(), provider="manual"))["payment"]
    return {"payment": payment, **_add(payment_application=PaymentApplication(
        org_id=org.id, payment_id=payment.id, invoice_id=invoice.id, amount_minor=100))}


def _queue_rows(org, user, customer, contact, invoice, marker):
    plan = _add(payment_plan=PaymentPlan(org_id=org.id, customer_id=customer.id, currency="USD",
                                         total_minor=1000))["payment_plan"]
    note = _add(note=Note(org_id=org.id, customer_id=customer.id, invoice_id=invoice.id, author_id=user.id,
                          body=f"{marker} note"))["note"]
    dispute = _add(dispute=Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id, reason="pricing",
                                   description=f"{marker} dispute", opened_at=utcnow()))["dispute"]
    return {"payment_plan": plan, "note": note, "dispute": dispute, **_add(
        payment_plan_invoice=PaymentPlanInvoice(org_id=org.id, plan_id=plan.id, invoice_id=invoice.id),
        plan_installment=PlanInstallment(org_id=org.id, plan_id=plan.id, due_date=workspace_today(), amount_minor=1000),
        note_mention=NoteMention(org_id=org.id, note_id=note.id, user_id=user.id),
        notification=Notification(org_id=org.id, user_id=user.id, kind="mention", text=f"{marker} notification"),
        promise=Promise(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id, contact_id=contact.id,
                        currency="USD", amount_minor=500, promised_date=workspace_today()),
        hold=Hold(org_id=org.id, kind="hold", customer_id=customer.id, reason=f"{marker} hold"),
        approval=Approval(org_id=org.id, kind="payment_plan", subject_type="PaymentPlan", subject_id=plan.id,
                          reason=f"{marker} approval"),
        dispute_evidence=DisputeEvidence(org_id=org.id, dispute_id=dispute.id, filename=f"{marker}.pdf",
                                         content_type="application/pdf", size_bytes=1, sha256="0" * 64,
                                         storage_path="/nonexistent", uploaded_at=utcnow()),
        dispute_reason=DisputeReason(org_id=org.id, key="freight", label=f"{marker} reason", sla_days=3),
        dispute_invoice=DisputeInvoice(org_id=org.id, dispute_id=dispute.id, invoice_id=invoice.id,
                                       disputed_minor=100),
    )}


def _outreach_rows(org, customer, contact, invoice, marker):
    segment = _add(segment=Segment(org_id=org.id, name=f"{marker} segment"))["segment"]
    cadence = _add(cadence=Cadence(org_id=org.id, name=f"{marker} cadence", segment_id=segment.id))["cadence"]
    step = _add(cadence_step=CadenceStep(org_id=org.id, cadence_id=cadence.id, position=1, offset_days=3,
                                         subject=f"{marker} subject", body="Hello {customer_name}"))["cadence_step"]
    message = _add(message=Message(org_id=org.id, idempotency_key=f"{marker}-key", customer_id=customer.id,
                                   invoice_id=invoice.id, contact_id=contact.id, cadence_step_id=step.id,
                                   subject=f"{marker} message"))["message"]
    return {"segment": segment, "cadence": cadence, "cadence_step": step, "message": message, **_add(
        message_invoice=MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id))}


def _other_rows(org, user, invoice, customer, marker):
    run = _add(import_run=ImportRun(org_id=org.id, kind="invoices", filename=f"{marker}.csv",
                                    created_by_id=user.id))["import_run"]
    return {"import_run": run, **_add(
        import_issue=ImportIssue(org_id=org.id, run_id=run.id, severity="error", line=2, column="Amount",
                                 value=f"{marker}-value", code="invalid_amount", message=f"{marker} issue"),
        connection=Connection(org_id=org.id, kind="stripe", provider="stripe", display_name=f"{marker} Stripe",
                              secrets='{"key": "sk_test_marker"}'),
        daily_snapshot=DailySnapshot(org_id=org.id, day=workspace_today(), metrics={"marker": marker}),
        exchange_rate=ExchangeRate(org_id=org.id, currency="EUR", day=workspace_today(), rate="1.0842",
                                   base_currency="USD", entered_by_id=user.id),
        webhook_event=WebhookEvent(org_id=org.id, provider="stripe", event_id=f"evt_{marker}",
                                   event_type="test.marker", payload="{}"),
        reply=Reply(org_id=org.id, header_message_id=f"<{marker}@reply>", customer_id=customer.id,
                    invoice_id=invoice.id, matched_by="sender", from_email=f"{marker.lower()}@payer.example",
                    subject=f"{marker} reply", body=f"{marker} body", received_at=utcnow(), label="other"),
        sending_domain=SendingDomain(org_id=org.id, domain=f"{marker.lower()}.example", dkim_selector="plixo202612",
                                     dkim_private_key=f"{marker} key", dkim_public_key=f"{marker}pub", checks={}),
        weekly_digest=WeeklyDigest(org_id=org.id, user_id=user.id, week="2026-W50", status="sent",
                                   scheduled_for=utcnow(), sent_at=utcnow(), last_error=f"{marker} digest"),
        checkout_session=CheckoutSession(org_id=org.id, customer_id=customer.id, stripe_session_id=f"cs_{marker}",
                                         url=f"https://checkout.example/{marker}", invoice_ids=[invoice.id],
                                         amount_minor=100, currency="USD", expires_at=utcnow()),
    )}
