"""Replies payers send to Plixo's e-mails, as received and as understood."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from plixo.crypto import EncryptedText
from plixo.model import Base, IdMixin, TenantMixin, utcnow


class Reply(IdMixin, TenantMixin, Base):
    """One inbound e-mail: which outbox message, customer and invoice it answers, what it says, what Plixo did."""

    __tablename__ = "replies"
    __table_args__ = (
        UniqueConstraint("org_id", "header_message_id"),  # the same e-mail fetched twice is one reply
        Index("ix_replies_org_customer", "org_id", "customer_id", "received_at"),
        Index("ix_replies_org_invoice", "org_id", "invoice_id"),
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


class SendingDomain(IdMixin, TenantMixin, Base):
    """A domain the workspace sends from: the DNS records it must publish, and what DNS said when last asked."""

    __tablename__ = "sending_domains"
    __table_args__ = (UniqueConstraint("org_id", "domain"),)

    domain: Mapped[str] = mapped_column(String(253))
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_private_key: Mapped[str] = mapped_column(EncryptedText)  # PEM, encrypted at rest
    dkim_public_key: Mapped[str] = mapped_column(Text)  # base64 DER, as the DNS record carries it
    # {"spf": {"state": "verified|missing|mismatch", "found": "...", "expected": "..."}, "dkim": ..., "dmarc": ...}
    checks: Mapped[dict] = mapped_column(default=dict)
    checked_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Warmup: a new domain may send only `warmup_cap` e-mails a day, doubling each sending day while its bounce
    # rate stays low, until the policy's cap; `warmup_day` is the workspace day the cap was last set for.
    warmup_cap: Mapped[int] = mapped_column(default=20, server_default="20")
    warmup_day: Mapped[dt.date | None]
    warmup_paused: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def ready_for_autopilot(self) -> bool:
        """Only once SPF, DKIM and DMARC all verify: before that, mail from it may land in spam."""
        checks = self.checks or {}
        return all(checks.get(record, {}).get("state") == "verified" for record in ("spf", "dkim", "dmarc"))
