"""Daily snapshots behind KPI trends and the Data-Ready history, and the exchange rates figures convert at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin


class DailySnapshot(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "daily_snapshots"
    __table_args__ = (UniqueConstraint("org_id", "day"),)

    day: Mapped[dt.date]  # the workspace-local date the snapshot describes
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    metrics: Mapped[dict] = mapped_column(default=dict)
    data_ready: Mapped[bool] = mapped_column(default=False)


class ExchangeRate(IdMixin, TenantMixin, TimestampMixin, Base):
    """How much one unit of `currency` is worth in the workspace's base currency, from `day` until a later rate.
    Kept as exact decimal text: a rate read back as a float would make converted totals drift."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("org_id", "currency", "day"),)

    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[dt.date]
    rate: Mapped[str] = mapped_column(String(32))  # a positive decimal, e.g. "1.0842"
    base_currency: Mapped[str] = mapped_column(String(3))  # what the rate converts into, when it was entered
    source: Mapped[str] = mapped_column(String(10), default="manual")  # manual, csv
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
