"""Segments, cadences and the outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

TONES = ("friendly", "professional", "firm")
MESSAGE_STATUSES = ("draft", "scheduled", "sending", "sent", "failed", "cancelled")


class Segment(IdMixin, TenantMixin, TimestampMixin, Base):
    """A saved rule selecting invoices; each runs in Shadow Mode or Autopilot."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    rules: Mapped[dict] = mapped_column(default=dict)
    mode: Mapped[str] = mapped_column(String(20), default="shadow")  # shadow, autopilot
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Cadence(IdMixin, TenantMixin, TimestampMixin, Base):
    """An ordered sequence of e-mail touches for a segment."""

    __tablename__ = "cadences"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        Index("ix_cadences_org_status", "org_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(120))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft, shadow, active, paused, archived
    shadow_started_at: Mapped[dt.datetime | None]
    # A controller ended the 14 days of Shadow early (why: shadow_end_reason; who: the audit trail).
    shadow_ended_early_at: Mapped[dt.datetime | None]
    shadow_end_reason: Mapped[str | None] = mapped_column(Text)
    activated_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    segment: Mapped[Segment | None] = relationship()
    steps: Mapped[list[CadenceStep]] = relationship(order_by="CadenceStep.position")


class CadenceStep(IdMixin, TenantMixin, Base):
    __tablename__ = "cadence_steps"
    __table_args__ = (UniqueConstraint("org_id", "cadence_id", "position"),)

    cadence_id: Mapped[int] = mapped_column(ForeignKey("cadences.id", ondelete="CASCADE"))
    position: Mapped[int]
    offset_days: Mapped[int]
    anchor: Mapped[str] = mapped_column(String(20), default="due_date")  # due_date, previous_touch
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tone_override: Mapped[str | None] = mapped_column(String(20))


class Message(IdMixin, TenantMixin, TimestampMixin, Base):
    """The outbox: the durable source of truth for every e-mail Plixo drafts or sends."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key"),
        UniqueConstraint("org_id", "id"),  # the target of message_invoices' (workspace, message) key
        Index("ix_messages_org_status_scheduled", "org_id", "status", "scheduled_for"),
        Index("ix_messages_org_customer", "org_id", "customer_id", "created_at"),
        Index("ix_messages_org_invoice", "org_id", "invoice_id"),
        Index("ix_messages_org_header", "org_id", "message_id_header"),
        Index("ix_messages_org_sender_domain_sent", "org_id", "sender_domain", "sent_at"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    cadence_step_id: Mapped[int | None] = mapped_column(ForeignKey("cadence_steps.id", ondelete="SET NULL"))
    # Correspondence about a dispute: it may reach the payer while the invoice is out of the queue as disputed.
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    to_email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    scheduled_for: Mapped[dt.datetime | None]
    wait_reason: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[dt.datetime | None]  # lease held by the send job
    sent_at: Mapped[dt.datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    message_id_header: Mapped[str | None] = mapped_column(String(300))
    sender_domain: Mapped[str | None] = mapped_column(String(253))  # the From domain it left with: warmup, bounces
    bounced_at: Mapped[dt.datetime | None]  # the recipient's server refused it for good (now or by a report)
    # The mailbox provider's draft (Microsoft Graph): a retry after a crash looks for it in Sent Items first.
    provider_draft_id: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None]
    # Why a person sent this inside the customer's contact limits (the send guard's audited override); the
    # sender then keeps to the waiver instead of holding the e-mail back again.
    guard_override: Mapped[str | None] = mapped_column(String(500))
    replied_at: Mapped[dt.datetime | None]  # first reply matched to this message
    # A teammate who may not send (Sales, CSM) suggested this draft: it waits for a collector's review.
    suggested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MessageInvoice(IdMixin, TenantMixin, Base):
    """Invoices listed in one (possibly consolidated) message.

    For cadence messages the step is repeated here: unique per (invoice, step), it makes sure no invoice is
    ever in two messages for the same step, consolidated or not.
    """

    __tablename__ = "message_invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "message_id", "invoice_id"),
        UniqueConstraint("org_id", "invoice_id", "cadence_step_id"),
        # Keyed on (workspace, message): the link can only name a message of its own workspace, the workspace
        # comes with the message (one foreign-key check per row, not two: an engine tick writes tens of
        # thousands), and deleting messages finds their links through the index above instead of a scan.
        ForeignKeyConstraint(["org_id", "message_id"], ["messages.org_id", "messages.id"], ondelete="CASCADE"),
    )

    org_id: Mapped[int] = mapped_column(nullable=False)
    message_id: Mapped[int]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    cadence_step_id: Mapped[int | None] = mapped_column(ForeignKey("cadence_steps.id", ondelete="CASCADE"))
