"""The domains the workspace sends from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from plixo.crypto import EncryptedText
from plixo.model import Base, IdMixin, TenantMixin, utcnow


class SendingDomain(IdMixin, TenantMixin, Base):
    """A domain the workspace sends from: the DNS records it must publish, and what DNS said when last asked."""

    __tablename__ = "sending_domains"
    __table_args__ = (UniqueConstraint("org_id", "domain"),)

    domain: Mapped[str] = mapped_column(String(253))
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_private_key: Mapped[str] = mapped_column(EncryptedText)  # PEM, encrypted at rest
    dkim_public_key: Mapped[str] = mapped_column(Text)  # base64 DER, as the DNS record carries it
    # {"spf": {"state": "verified|missing|mismatch", "found": "...", "expected": "..."}, "dkim": ..., "dmarc": ...}
    checks: Mapped[dict] = mapped_column(default=dict)
    checked_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Warmup: a new domain may send only `warmup_cap` e-mails a day, doubling each sending day while its bounce
    # rate stays low, until the policy's cap; `warmup_day` is the workspace day the cap was last set for.
    warmup_cap: Mapped[int] = mapped_column(default=20, server_default="20")
    warmup_day: Mapped[dt.date | None]
    warmup_paused: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def ready_for_autopilot(self) -> bool:
        """Only once SPF, DKIM and DMARC all verify: before that, mail from it may land in spam."""
        checks = self.checks or {}
        return all(checks.get(record, {}).get("state") == "verified" for record in ("spf", "dkim", "dmarc"))
