"""Connections to outside services (Stripe, the finance inbox, the ERP)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plixo.crypto import EncryptedText
from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

CONNECTION_KINDS = {"stripe": ("stripe",), "email": ("microsoft", "gmail", "smtp"), "erp": ("quickbooks", "netsuite")}


class Connection(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "provider"),
        Index("ix_connections_org_external", "org_id", "external_account_id"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, active, error, disconnected
    display_name: Mapped[str | None] = mapped_column(String(200))
    external_account_id: Mapped[str | None] = mapped_column(String(200))
    secrets: Mapped[str | None] = mapped_column(EncryptedText)  # JSON, encrypted at rest
    settings: Mapped[dict] = mapped_column(default=dict)
    last_sync_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
