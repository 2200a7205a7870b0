"""Import runs: one uploaded file's journey from mapping to commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin


class ImportRun(IdMixin, TenantMixin, TimestampMixin, Base):
    """One uploaded file's journey: analysed, mapped, validated (a dry run stops here), committed."""

    __tablename__ = "import_runs"
    __table_args__ = (
        Index("ix_import_runs_org_created", "org_id", "created_at"),
        Index("ix_import_runs_org_signature", "org_id", "kind", "header_signature"),
    )

    kind: Mapped[str] = mapped_column(String(20))  # customers, invoices, quickbooks, netsuite
    filename: Mapped[str] = mapped_column(String(255), default="")
    storage_path: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    header_signature: Mapped[str | None] = mapped_column(String(64))  # finds the mapping used for these headers
    mapping: Mapped[dict] = mapped_column(default=dict)  # Plixo field -> column index
    settings: Mapped[dict] = mapped_column(default=dict)  # date formats, decimal comma, full sync, dry run
    summary: Mapped[dict] = mapped_column(default=dict)  # counts, fixes, totals after commit
    # uploaded, validating, validated, committing, committed, failed, cancelled
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_valid: Mapped[int] = mapped_column(default=0)
    rows_fixed: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]  # a worker that stops beating has died: the run is marked failed


class ImportIssue(IdMixin, TenantMixin, Base):
    """A rejected value, or an example of an automatic fix, found while validating a run."""

    __tablename__ = "import_issues"
    __table_args__ = (Index("ix_import_issues_org_run", "org_id", "run_id", "severity", "line"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(10))  # error, fix
    line: Mapped[int]
    column: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str] = mapped_column(Text, default="")
