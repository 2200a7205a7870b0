"""Customers, their contacts, invoices and payments: the receivables ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.accounts.models import User
from plixo.model import Base, CurrencyCode, IdMixin, Money, TenantMixin, TimestampMixin

RISK_TIERS = ("low", "medium", "high")
INVOICE_STATUSES = ("open", "paid", "disputed", "written_off", "void", "closed")
INVOICE_SOURCES = ("csv", "quickbooks", "netsuite", "manual", "demo")


class Customer(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        Index("ix_customers_org_name", "org_id", "name"),
        Index("ix_customers_org_owner", "org_id", "owner_id"),
    )

    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    risk_tier: Mapped[str] = mapped_column(String(10), default="medium")
    time_zone: Mapped[str | None] = mapped_column(String(64))  # falls back to the workspace's
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tags: Mapped[list] = mapped_column(default=list)
    # Signed into every portal and pay link; bumping it revokes all links already sent to this customer.
    portal_version: Mapped[int] = mapped_column(default=1, server_default="1")

    owner: Mapped[User | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", order_by="Contact.id")


class Contact(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_org_customer", "org_id", "customer_id"),
        Index("ix_contacts_org_email", "org_id", "email"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    is_primary: Mapped[bool] = mapped_column(default=False)
    bounced_at: Mapped[dt.datetime | None]
    bounce_kind: Mapped[str | None] = mapped_column(String(10))  # hard, soft
    suppressed_until: Mapped[dt.date | None]
    opted_out_at: Mapped[dt.datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    @property
    def deliverable(self) -> bool:
        return bool(self.email) and not (self.bounce_kind == "hard" or self.opted_out_at)


class Invoice(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        Index("ix_invoices_org_status_due", "org_id", "status", "due_date"),
        Index("ix_invoices_org_customer", "org_id", "customer_id"),
        # The queue walks this index in order (keyset pagination), newest id breaking ties.
        Index("ix_invoices_org_status_priority", "org_id", "status", "priority", "id"),
        Index("ix_invoices_org_assignee", "org_id", "assignee_id"),
        Index("ix_invoices_org_issue_date", "org_id", "issue_date"),
    )

    # active_history: what these were before a change is read even from an expired row, because the balance
    # history (ledger.balances) records how far the open balance moved.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), active_history=True)
    number: Mapped[str] = mapped_column(String(100))
    issue_date: Mapped[dt.date]
    due_date: Mapped[dt.date]
    currency: Mapped[str] = CurrencyCode(active_history=True)
    amount_minor: Mapped[int] = Money()
    balance_minor: Mapped[int] = Money(active_history=True)
    status: Mapped[str] = mapped_column(String(20), default="open", active_history=True)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    closed_at: Mapped[dt.datetime | None]
    priority: Mapped[int] = mapped_column(default=0, server_default="0")  # queue score, see ledger.priority
    priority_detail: Mapped[dict | None]  # {"why": "90+ days · $48k", "flags": [...]}, written with the score
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    customer: Mapped[Customer] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])


class Payment(IdMixin, TenantMixin, TimestampMixin, Base):
    """Money received from a customer (Stripe, or recorded from the ERP)."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_org_received", "org_id", "received_at"),
        Index("ix_payments_org_customer", "org_id", "customer_id"),
        UniqueConstraint("org_id", "provider", "provider_ref"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    currency: Mapped[str] = CurrencyCode()
    amount_minor: Mapped[int] = Money()
    refunded_minor: Mapped[int] = Money()
    reversed_minor: Mapped[int] = Money()  # taken back by a lost chargeback
    unapplied_minor: Mapped[int] = Money()  # overpayment held as customer credit
    target_invoice_ids: Mapped[list] = mapped_column(default=list)  # what the payer said it was for
    received_at: Mapped[dt.datetime]
    provider: Mapped[str] = mapped_column(String(20), default="manual")  # stripe, erp, manual, demo
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="succeeded")  # succeeded, refunded, failed

    applications: Mapped[list[PaymentApplication]] = relationship(back_populates="payment")

    @property
    def net_minor(self) -> int:
        """What the customer still has paid after refunds and lost chargebacks."""
        return max(self.amount_minor - self.refunded_minor - self.reversed_minor, 0)


class PaymentApplication(IdMixin, TenantMixin, Base):
    """How much of a payment went to which invoice."""

    __tablename__ = "payment_applications"
    __table_args__ = (
        Index("ix_payment_applications_org_invoice", "org_id", "invoice_id"),
        Index("ix_payment_applications_org_payment", "org_id", "payment_id"),
    )

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = Money()

    payment: Mapped[Payment] = relationship(back_populates="applications")
    invoice: Mapped[Invoice] = relationship()


# What moves an invoice's open balance: billing it, cash, non-cash reductions, and anything else.
BALANCE_KINDS = ("issued", "collected", "refunded", "credited", "written_off", "settled_before", "adjusted")
CASH_KINDS = ("collected", "refunded")  # cash collected is minus their sum: a refund gives cash back


class BalanceChange(IdMixin, TenantMixin, Base):
    """One change of an invoice's open balance, kept as it happens: the cash collected on a past day is read from
    these, never worked out again from today's balances. The changes of an invoice add up to its open balance."""

    __tablename__ = "balance_changes"
    __table_args__ = (
        Index("ix_balance_changes_org_day", "org_id", "day"),
        Index("ix_balance_changes_org_invoice", "org_id", "invoice_id"),
    )

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    currency: Mapped[str] = CurrencyCode()
    day: Mapped[dt.date]  # the workspace-local day it happened (an invoice's issue date for "issued")
    amount_minor: Mapped[int] = Money()  # signed: what the open balance moved by
    kind: Mapped[str] = mapped_column(String(20))  # BALANCE_KINDS
    source: Mapped[str] = mapped_column(String(20))  # stripe, import, sync, manual, demo, system
    recorded_at: Mapped[dt.datetime]

    invoice: Mapped[Invoice] = relationship()
