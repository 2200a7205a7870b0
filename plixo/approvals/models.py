"""Requests that wait for a Controller's or Legal's decision."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin

USER_FK = "users.id"


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
