"""Internal notes on customers and invoices, and the teammates they mention."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

USER_FK = "users.id"


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
