"""What collectors record while working the queue: promises, plans, notes, holds, approvals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, CurrencyCode, IdMixin, Money, TenantMixin, TimestampMixin

USER_FK = "users.id"


class Promise(IdMixin, TenantMixin, TimestampMixin, Base):
    """A payer's commitment to pay an amount by a date."""

    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_org_invoice", "org_id", "invoice_id"),
        Index("ix_promises_org_status_date", "org_id", "status", "promised_date"),
        Index("ix_promises_org_customer", "org_id", "customer_id"),
    )

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    currency: Mapped[str] = CurrencyCode()
    amount_minor: Mapped[int] = Money()
    promised_date: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, kept, broken, cancelled
    source: Mapped[str] = mapped_column(String(20), default="operator")  # operator, portal, email
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    resolved_at: Mapped[dt.datetime | None]


class PaymentPlan(IdMixin, TenantMixin, TimestampMixin, Base):
    """Installments agreed with a payer for one or more invoices."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        Index("ix_payment_plans_org_customer", "org_id", "customer_id"),
        Index("ix_payment_plans_org_status", "org_id", "status"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    currency: Mapped[str] = CurrencyCode()
    total_minor: Mapped[int] = Money()
    # proposed, pending_approval, accepted, rejected, cancelled, completed, defaulted
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    source: Mapped[str] = mapped_column(String(20), default="operator")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]

    installments: Mapped[list[PlanInstallment]] = relationship(order_by="PlanInstallment.due_date")
    invoices: Mapped[list[PaymentPlanInvoice]] = relationship()


class PaymentPlanInvoice(IdMixin, TenantMixin, Base):
    __tablename__ = "payment_plan_invoices"
    __table_args__ = (
        Index("ix_payment_plan_invoices_org_plan", "org_id", "plan_id"),
        Index("ix_payment_plan_invoices_org_invoice", "org_id", "invoice_id"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))


class PlanInstallment(IdMixin, TenantMixin, Base):
    __tablename__ = "plan_installments"
    __table_args__ = (Index("ix_plan_installments_org_plan", "org_id", "plan_id", "due_date"),)

    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"))
    due_date: Mapped[dt.date]
    amount_minor: Mapped[int] = Money()
    paid_minor: Mapped[int] = Money()
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled, paid, missed


class Note(IdMixin, TenantMixin, TimestampMixin, Base):
    """An internal note on a customer (optionally one invoice); @mentions notify teammates."""

    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_org_customer", "org_id", "customer_id", "created_at"),
        Index("ix_notes_org_invoice", "org_id", "invoice_id"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)

    mentions: Mapped[list[NoteMention]] = relationship()


class NoteMention(IdMixin, TenantMixin, Base):
    __tablename__ = "note_mentions"
    __table_args__ = (
        Index("ix_note_mentions_org_user", "org_id", "user_id", "seen_at"),
        Index("ix_note_mentions_org_note", "org_id", "note_id"),
    )

    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey(USER_FK, ondelete="CASCADE"))
    seen_at: Mapped[dt.datetime | None]


class Hold(IdMixin, TenantMixin, TimestampMixin, Base):
    """A stop on outreach: a manual hold, a suppression with reactivation date, or an opt-out."""

    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_org_customer", "org_id", "customer_id"),
        Index("ix_holds_org_invoice", "org_id", "invoice_id"),
        Index("ix_holds_org_until", "org_id", "until"),
    )

    kind: Mapped[str] = mapped_column(String(20))  # hold, suppression, opt_out
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[dt.date | None]  # reactivation date; None = until released
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    released_at: Mapped[dt.datetime | None]


class Approval(IdMixin, TenantMixin, TimestampMixin, Base):
    """A request that needs a Controller's or Legal's decision (credit, plan, write-off, message)."""

    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_org_status_role", "org_id", "status", "approver_role"),
        Index("ix_approvals_org_subject", "org_id", "subject_type", "subject_id"),
    )

    kind: Mapped[str] = mapped_column(String(20))  # credit, payment_plan, write_off, discount, message
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int]
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_minor: Mapped[int | None]
    approver_role: Mapped[str] = mapped_column(String(20), default="controller")
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, approved, rejected
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="operator", server_default="operator")  # or portal

    requested_by = relationship("User", foreign_keys=[requested_by_id])

    @property
    def requested_in_portal(self) -> bool:
        """Asked for by the payer in the portal (there is no requesting teammate)."""
        return self.source == "portal"


class Notification(IdMixin, TenantMixin, TimestampMixin, Base):
    """Something a teammate should see: an @mention, a decision on their request."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_org_user_read", "org_id", "user_id", "read_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey(USER_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # mention, approval_decided
    text: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[dt.datetime | None]
