"""Disputes: a payer challenges an invoice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

DISPUTE_STATUSES = ("needs_review", "investigating", "waiting_customer", "waiting_internal", "resolved", "withdrawn")
OPEN_DISPUTE_STATUSES = ("needs_review", "investigating", "waiting_customer", "waiting_internal")
VERDICTS = ("valid", "invalid")


class Dispute(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_org_status_sla", "org_id", "status", "sla_due_at"),
        Index("ix_disputes_org_invoice", "org_id", "invoice_id"),
        UniqueConstraint("org_id", "stripe_dispute_id"),
    )

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))  # a DisputeReason key (plixo.disputes.reasons)
    description: Mapped[str] = mapped_column(Text, default="")
    # The part of the invoice contested, in its currency; None: all of it. Only this part stops the chase.
    disputed_minor: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="needs_review")
    verdict: Mapped[str | None] = mapped_column(String(10))  # valid (the payer is right), invalid
    # The agreed resolution: credit_note, adjustment, rebill, write_off, no_action (plixo.disputes.lifecycle)
    outcome: Mapped[str | None] = mapped_column(String(40))
    resolution_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(20), default="operator")  # operator, portal, email, stripe
    needs_review: Mapped[bool] = mapped_column(default=False)
    routed_to: Mapped[str | None] = mapped_column(String(20))  # legal, sales
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sla_due_at: Mapped[dt.datetime | None]
    opened_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    stripe_dispute_id: Mapped[str | None] = mapped_column(String(100))
    # When the chargeback's evidence went to Stripe: the issuer takes it once (plixo.disputes.chargeback).
    evidence_submitted_at: Mapped[dt.datetime | None]

    evidence: Mapped[list[DisputeEvidence]] = relationship(order_by="DisputeEvidence.id")


class DisputeEvidence(IdMixin, TenantMixin, Base):
    """A file attached to a dispute, stored outside the web root."""

    __tablename__ = "dispute_evidence"
    __table_args__ = (Index("ix_dispute_evidence_org_dispute", "org_id", "dispute_id"),)

    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(String(40), default="other")  # contract, proof_of_delivery, correspondence
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[dt.datetime]


class DisputeReason(IdMixin, TenantMixin, Base):
    """A workspace's own reason for disputes, with its SLA and who owns new disputes of it. A workspace without rows
    uses the defaults (plixo.disputes.reasons.DEFAULT_REASONS)."""

    __tablename__ = "dispute_reasons"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    sla_days: Mapped[int]  # business days: the workspace's sending days
    owner_role: Mapped[str | None] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)
    archived: Mapped[bool] = mapped_column(default=False)


class DisputeInvoice(IdMixin, TenantMixin, Base):
    """Another invoice one dispute covers (the first is the dispute's own `invoice_id`), with the part contested."""

    __tablename__ = "dispute_invoices"
    __table_args__ = (UniqueConstraint("org_id", "dispute_id", "invoice_id"),
                      Index("ix_dispute_invoices_org_invoice", "org_id", "invoice_id"))

    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    disputed_minor: Mapped[int | None] = mapped_column(BigInteger)  # None: all of it
