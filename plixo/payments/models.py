"""Stripe: inbound events, the account routes that deliver them, and the Checkout pages Plixo opened."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plixo.crypto import EncryptedText
from plixo.model import Base, CurrencyCode, IdMixin, Money, TenantMixin, utcnow


class WebhookEvent(IdMixin, Base):
    """A provider event, stored once on receipt and applied by a job.

    Not a TenantMixin table: an event is stored before its workspace is known (the connected
    account is resolved from the payload), so org_id may be empty. Views filter by org_id explicitly.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_webhook_events_org_received", "org_id", "received_at"),
        Index("ix_webhook_events_org_status", "org_id", "status"),
    )

    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    # received, processed, waiting (for an event it depends on), failed, ignored
    status: Mapped[str] = mapped_column(String(20), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]


class StripeAccount(IdMixin, Base):
    """Which workspace a connected Stripe account belongs to: how a webhook finds its workspace.

    Not a TenantMixin table, for the same reason as WebhookEvent: the receiver reads it before it knows the
    workspace, and it holds nothing but the route (the account's secrets stay in the workspace's Connection).
    """

    __tablename__ = "stripe_accounts"
    __table_args__ = (UniqueConstraint("account_id"), Index("ix_stripe_accounts_org", "org_id"))

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(100))
    # An account connected with its own restricted key posts to its own endpoint, signed with this secret;
    # accounts connected through Connect OAuth share the platform endpoint's secret (None here).
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CheckoutSession(IdMixin, TenantMixin, Base):
    """A Stripe Checkout page Plixo opened for a customer's invoices: reused while it is open, expired on Stripe
    before another is opened for any of the same invoices, so two pages can never both take the money."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        UniqueConstraint("org_id", "stripe_session_id"),
        Index("ix_checkout_sessions_org_customer_status", "org_id", "customer_id", "status"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    stripe_session_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    invoice_ids: Mapped[list] = mapped_column(default=list)
    amount_minor: Mapped[int] = Money()
    currency: Mapped[str] = CurrencyCode()
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, expired, complete
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
