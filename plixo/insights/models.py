"""Daily snapshots behind KPI trends and the Data-Ready history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin


class DailySnapshot(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "daily_snapshots"
    __table_args__ = (UniqueConstraint("org_id", "day"),)

    day: Mapped[dt.date]  # the workspace-local date the snapshot describes
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    metrics: Mapped[dict] = mapped_column(default=dict)
    data_ready: Mapped[bool] = mapped_column(default=False)
