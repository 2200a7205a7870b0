"""Every model of the product, imported in one place for Alembic and the tenancy checks."""

from plixo.accounts.models import Invite, Membership, Notification, Organization, Policy, User
from plixo.approvals.models import Approval
from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.disputes.models import Dispute, DisputeEvidence, DisputeInvoice, DisputeReason
from plixo.holds.models import Hold
from plixo.imports.models import ImportIssue, ImportRun
from plixo.insights.models import DailySnapshot, ExchangeRate, WeeklyDigest
from plixo.ledger.models import BalanceChange, Contact, Customer, Invoice, Payment, PaymentApplication
from plixo.mail.models import SendingDomain
from plixo.notes.models import Note, NoteMention
from plixo.outreach.models import Cadence, CadenceStep, Message, MessageInvoice, Segment
from plixo.payments.models import CheckoutSession, StripeAccount, WebhookEvent
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment, Promise
from plixo.replies.models import Reply

__all__ = [
    "Approval",
    "AuditEvent",
    "BalanceChange",
    "Cadence",
    "CadenceStep",
    "CheckoutSession",
    "Connection",
    "Contact",
    "Customer",
    "DailySnapshot",
    "Dispute",
    "DisputeEvidence",
    "DisputeInvoice",
    "DisputeReason",
    "ExchangeRate",
    "Hold",
    "ImportIssue",
    "ImportRun",
    "Invite",
    "Invoice",
    "Membership",
    "Message",
    "MessageInvoice",
    "Note",
    "NoteMention",
    "Notification",
    "Organization",
    "Payment",
    "PaymentApplication",
    "PaymentPlan",
    "PaymentPlanInvoice",
    "PlanInstallment",
    "Policy",
    "Promise",
    "Reply",
    "Segment",
    "SendingDomain",
    "StripeAccount",
    "User",
    "WebhookEvent",
    "WeeklyDigest",
]
