"""Workspaces, people and their roles."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin, utcnow


class Organization(IdMixin, TimestampMixin, Base):
    """A workspace: one company's receivables, team and settings."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)  # stable handle for scripts (import-csv --org)
    legal_name: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_path: Mapped[str | None] = mapped_column(String(500))
    referral_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="trial")  # trial, active, read_only, cancelled


class User(IdMixin, TimestampMixin, UserMixin, Base):
    """A person who signs in; belongs to workspaces through memberships."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Bumped on password change or deactivation so old session cookies stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[dt.datetime | None]

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class Membership(IdMixin, TenantMixin, TimestampMixin, Base):
    """A user's role in one workspace."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id"),
        Index("ix_memberships_org_role", "org_id", "role"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Invite(IdMixin, TenantMixin, TimestampMixin, Base):
    """An invitation for an e-mail address to join a workspace with a role."""

    __tablename__ = "invites"
    __table_args__ = (
        Index("ix_invites_org_email", "org_id", "email"),
        UniqueConstraint("token_hash"),
    )

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    invited_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "pending"
