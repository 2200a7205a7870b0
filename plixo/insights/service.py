"""Workspace figures: open receivables by aging bucket, and the daily snapshot that keeps their history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.insights.figures import figures, open_ar
from plixo.insights.models import DailySnapshot
from plixo.ledger.aging import BUCKET_NAMES, bucket_case, local_today
from plixo.ledger.coverage import contact_coverage, open_invoice_count
from plixo.ledger.models import Customer, Invoice
from plixo.promises.models import Promise


def aging_summary(session: Session, today: dt.date) -> dict[str, dict[str, int]]:
    """Open balance (minor units) per currency and aging bucket, as seen on `today`."""
    bucket = bucket_case(Invoice.due_date, today).label("bucket")
    rows = session.execute(
        select(Invoice.currency, bucket, func.sum(Invoice.balance_minor), func.count())
        .where(Invoice.status.in_(("open", "disputed")), Invoice.balance_minor > 0)
        .group_by(Invoice.currency, bucket)
    ).all()
    summary: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKET_NAMES, 0))
    for currency, name, total, _count in rows:
        summary[currency][name] = int(total)
    return dict(sorted(summary.items()))


def home_figures(session: Session, org: Organization) -> dict:
    """What the workspace home shows: exposure by bucket, counts, promises and disputes."""
    today = local_today(org.time_zone)
    return {
        "today": today,
        "aging": aging_summary(session, today),
        "customers": session.scalar(select(func.count()).select_from(Customer)),
        "open_invoices": open_invoice_count(session),
        "pending_promises": session.scalar(
            select(func.count()).select_from(Promise).where(Promise.status == "pending")),
        "open_disputes": session.scalar(
            select(func.count()).select_from(Dispute).where(Dispute.status.in_(OPEN_DISPUTE_STATUSES))),
        "coverage": contact_coverage(session),
    }


def take_snapshot(session: Session, org: Organization, now: dt.datetime | None = None) -> DailySnapshot:
    """Record (or refresh) today's snapshot for the workspace; one row per workspace-local day. Its figures are
    what the console's trend shows for this day once it is past: frozen, whatever is paid or imported later."""
    today = local_today(org.time_zone, now)
    coverage = contact_coverage(session)
    metrics = {
        "aging": aging_summary(session, today),
        "open_invoices": open_invoice_count(session),
        "contact_coverage": coverage,
        "kpis": snapshot_figures(session, org, today, today),
    }
    return _store(session, org, today, metrics, coverage is not None and coverage >= 0.95)


def back_fill_snapshot(session: Session, org: Organization, day: dt.date, today: dt.date) -> DailySnapshot:
    """The snapshot a past day would have had, from the recorded balance changes (for demo data and benchmarks,
    and for days a workspace missed). Contact coverage is not known for a past day, so it is left out."""
    by_currency = open_ar(session, day, today)
    metrics = {"aging": dict(sorted(by_currency.items())), "kpis": snapshot_figures(session, org, day, today)}
    return _store(session, org, day, metrics, False)


def snapshot_figures(session: Session, org: Organization, day: dt.date, today: dt.date) -> dict:
    data = figures(session, org, day, today).as_dict()
    data.pop("exposure")  # today's customers, not a history
    return data


def _store(session: Session, org: Organization, day: dt.date, metrics: dict, data_ready: bool) -> DailySnapshot:
    snapshot = session.execute(select(DailySnapshot).where(DailySnapshot.day == day)).scalar_one_or_none()
    if snapshot is None:
        snapshot = DailySnapshot(org_id=org.id, day=day, currency=org.base_currency)
        session.add(snapshot)
    snapshot.metrics, snapshot.currency, snapshot.data_ready = metrics, org.base_currency, data_ready
    session.flush()
    return snapshot
