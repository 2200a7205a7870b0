"""Daily snapshots behind KPI trends and the Data-Ready history, the exchange rates figures convert at, and the
weekly digests e-mailed to the workspace's CFOs and controllers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
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


class WeeklyDigest(IdMixin, TenantMixin, TimestampMixin, Base):
    """One member's weekly digest for one ISO week of the workspace: the row is claimed before the e-mail is handed
    to the relay and marked sent only once the relay accepted it, so it goes once however often the job runs."""

    __tablename__ = "weekly_digests"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", "week"),
        Index("ix_weekly_digests_org_status_scheduled", "org_id", "status", "scheduled_for"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(8))  # the workspace-local ISO week, e.g. "2026-W50"
    # scheduled -> sending (claimed) -> delivering (handed to the relay) -> sent; or failed, unknown (the relay
    # may have taken it: never sent again), cancelled (no longer opted in or eligible), expired (its week ended)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    scheduled_for: Mapped[dt.datetime]  # not before this instant: the week's moment, a quiet-hours end, a retry
    claimed_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[dt.datetime | None]
    message_id_header: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
