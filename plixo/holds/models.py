"""Stops on outreach: holds, suppressions, opt-outs and escalations to Shadow Mode."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

USER_FK = "users.id"


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
