"""Replies payers send to Plixo's e-mails, as received and as understood."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plixo.model import Base, IdMixin, TenantMixin, utcnow


class Reply(IdMixin, TenantMixin, Base):
    """One inbound e-mail: which outbox message, customer and invoice it answers, what it says, what Plixo did."""

    __tablename__ = "replies"
    __table_args__ = (
        UniqueConstraint("org_id", "header_message_id"),  # the same e-mail fetched twice is one reply
        Index("ix_replies_org_customer", "org_id", "customer_id", "received_at"),
        Index("ix_replies_org_invoice", "org_id", "invoice_id"),
        Index("ix_replies_org_waiting", "org_id", "handled_at", "customer_id"),
    )

    header_message_id: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    matched_by: Mapped[str] = mapped_column(String(20))  # thread, invoice_number, sender, none
    from_email: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # the payer's own words, without the quoted reminder
    received_at: Mapped[dt.datetime]
    label: Mapped[str] = mapped_column(String(20))
    confidence_pct: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list] = mapped_column(default=list)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # a promised amount, in `currency` minor units
    promised_date: Mapped[dt.date | None]
    return_date: Mapped[dt.date | None]
    outcome: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A reply Plixo did not fully act on waits for a person, and pauses the chase of its customer until then.
    handled_at: Mapped[dt.datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_how: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # A person's reading when it differs from the classifier's: the workspace's labelled examples.
    corrected_label: Mapped[str | None] = mapped_column(String(20))
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def reading(self) -> str:
        """The class the team works with: a person's correction, else the classifier's."""
        return self.corrected_label or self.label

    @property
    def waiting(self) -> bool:
        return self.handled_at is None
