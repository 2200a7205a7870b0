"""What payers commit to: promises to pay by a date, and payment plans in installments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
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
