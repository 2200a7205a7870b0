"""The CFO console's figures as of a day, in the workspace's base currency (SPEC "Figures").

Open A/R, the part not yet due and aging come from the invoices themselves for today, and from the recorded balance
changes (`ledger.balances`) for any earlier day, so a past figure never depends on what was paid since. Sales are
the invoices issued in a window (voided ones excepted); cash collected is what payments and imports took off
balances, on the day they did. Amounts in a currency with no rate are left out of every figure and listed apart.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.disputes.desk import disputed_amount
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.insights import formulas
from plixo.insights.models import DailySnapshot
from plixo.insights.rates import Converter, converter_on
from plixo.ledger.aging import BUCKET_NAMES, bucket_case
from plixo.ledger.balances import OPEN_STATUSES
from plixo.ledger.models import CASH_KINDS, BalanceChange, Customer, Invoice
from plixo.outreach.models import Message
from plixo.outreach.segments import SegmentRules, customer_rules_clause
from plixo.promises.models import Promise

CEI_WINDOW_DAYS = 30
PROMISE_WINDOW_DAYS = 90
AT_RISK_DAYS = 7
AFTER_EMAIL_DAYS = 14
TOP_CUSTOMERS = 10


@dataclass(frozen=True)
class Scope:
    """Which customers the figures cover: everyone, one owner's, or a segment's (its customer rules: risk tiers,
    tags, owner and currencies; its aging and balance rules describe invoices on one day, not a history)."""

    owner_id: int | None = None
    segment: SegmentRules | None = None

    def clause(self, currency_column):
        conditions = []
        if self.owner_id:
            conditions.append(Customer.owner_id == self.owner_id)
        if self.segment is not None:
            conditions.append(customer_rules_clause(self.segment, currency_column))
        return and_(true(), *conditions)


EVERYONE = Scope()


@dataclass
class Figures:
    currency: str
    as_of: dt.date
    period_days: int
    open_ar_minor: int
    current_ar_minor: int
    open_ar_by_currency: dict[str, int]
    aging_minor: dict[str, int]
    sales_by_period_minor: list[int]
    sales_90_minor: int
    dso_countback_days: float | None
    dso_countback_over_360: bool
    dso_standard_days: float | None
    bpdso_days: float | None
    add_days: float | None
    cei_percent: float | None
    cei_start_from: str  # "snapshot", "ledger"
    cash_collected_minor: int
    cash_after_email_minor: int
    cash_after_email_percent: float | None
    disputed_minor: int
    promises: dict
    exposure: dict
    not_converted: dict[str, dict[str, int]] = field(default_factory=dict)  # figure -> currency -> amount

    def as_dict(self) -> dict:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["promise_kept_rate"] = self.promises["kept_rate_count"]
        return data


class Reading:
    """Where the figures' rows come from: here straight from the tables, for any day; `insights.today` reads today's
    from parts it remembers across the day's payments, and must give the same rows."""

    def __init__(self, session: Session, org: Organization, today: dt.date, scope: Scope = EVERYONE):
        self.session, self.org, self.today, self.scope = session, org, today, scope

    def open_ar(self, day: dt.date) -> dict[str, dict[str, int]]:
        return open_ar(self.session, day, self.today, self.scope)

    def sales_by_day(self, after: dt.date, until: dt.date) -> dict[tuple[str, dt.date], int]:
        return sales_by_day(self.session, after, until, self.scope)

    def cash_by_day(self, after: dt.date, until: dt.date) -> dict[tuple[dt.date, str], tuple[int, int]]:
        return cash_by_day(self.session, self.org, after, until, self.scope)

    def owed(self) -> dict[tuple[int, str], int]:
        return owed_by_customer(self.session, self.today, self.scope)


def figures(session: Session, org: Organization, as_of: dt.date, today: dt.date, period_days: int = 30,
            scope: Scope = EVERYONE, reading: Reading | None = None) -> Figures:
    """Every console figure as of `as_of` (on or before `today`), cash over the `period_days` ending then."""
    reading = reading or Reading(session, org, today, scope)
    convert = converter_on(session, org, as_of)
    apart: dict[str, dict[str, int]] = {}

    def base(name: str, by_currency: dict[str, int]) -> int:
        total, missing = convert.total(by_currency)
        if missing:
            apart[name] = missing
        return total

    ar = reading.open_ar(as_of)
    open_total = base("open_ar", {c: sum(b.values()) for c, b in ar.items()})
    aging = {name: base(f"aging {name}", {c: b[name] for c, b in ar.items() if b[name]}) for name in BUCKET_NAMES}
    current = aging["current"]
    sold = reading.sales_by_day(as_of - dt.timedelta(days=formulas.PERIOD_DAYS * formulas.PERIODS), as_of)
    periods = _sales_by_period(sold, as_of, convert, apart)
    sales_90 = sum(periods[:3])
    standard = formulas.standard_dso(open_total, sales_90)
    best = formulas.best_possible_dso(current, sales_90)
    countback = formulas.countback_dso(open_total, periods)
    start_ar, start_from = _cei_start(session, org, as_of, reading, convert)
    cei_sales = base("cei sales", _per_currency((currency, minor) for (currency, day), minor in sold.items()
                                                if day > as_of - dt.timedelta(days=CEI_WINDOW_DAYS)))
    cash_days = reading.cash_by_day(as_of - dt.timedelta(days=period_days), as_of)
    cash_total = base("cash collected", _per_currency((c, cash) for (_d, c), (cash, _a) in cash_days.items()))
    after_email_total = base("cash after an e-mail",
                             _per_currency((c, after) for (_d, c), (_cash, after) in cash_days.items()))
    return Figures(
        currency=org.base_currency, as_of=as_of, period_days=period_days, open_ar_minor=open_total,
        current_ar_minor=current, open_ar_by_currency={c: sum(b.values()) for c, b in sorted(ar.items())},
        aging_minor=aging, sales_by_period_minor=periods, sales_90_minor=sales_90,
        dso_countback_days=countback.days, dso_countback_over_360=countback.over_cap, dso_standard_days=standard,
        bpdso_days=best, add_days=formulas.average_days_delinquent(standard, best),
        cei_percent=formulas.collection_effectiveness(start_ar, cei_sales, open_total, current),
        cei_start_from=start_from, cash_collected_minor=cash_total, cash_after_email_minor=after_email_total,
        cash_after_email_percent=formulas.share(after_email_total, cash_total),
        disputed_minor=base("disputed", disputed(session, scope)),
        promises=promise_adherence(session, as_of, scope, convert, apart),
        exposure=exposure(session, reading, as_of, convert, open_total),
        not_converted=apart,
    )


def _per_currency(pairs) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for currency, minor in pairs:
        totals[currency] += minor
    return {currency: total for currency, total in totals.items() if total}


def open_ar(session: Session, day: dt.date, today: dt.date, scope: Scope = EVERYONE) -> dict[str, dict[str, int]]:
    """Open balance per currency and aging bucket as of `day`, of invoices issued on or before it."""
    bucket = bucket_case(Invoice.due_date, day).label("bucket")
    if day >= today:
        query = (select(Invoice.currency, bucket, func.sum(Invoice.balance_minor))
                 .join(Customer, Customer.id == Invoice.customer_id)
                 .where(Invoice.status.in_(OPEN_STATUSES), Invoice.issue_date <= day, scope.clause(Invoice.currency))
                 .group_by(Invoice.currency, bucket))
    else:
        query = (select(BalanceChange.currency, bucket, func.sum(BalanceChange.amount_minor))
                 .join(Invoice, Invoice.id == BalanceChange.invoice_id)
                 .join(Customer, Customer.id == BalanceChange.customer_id)
                 .where(BalanceChange.day <= day, Invoice.issue_date <= day, scope.clause(BalanceChange.currency))
                 .group_by(BalanceChange.currency, bucket))
    result: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKET_NAMES, 0))
    for currency, name, total in session.execute(query):
        result[currency][name] += int(total or 0)
    return {currency: buckets for currency, buckets in result.items() if any(buckets.values())}


def sales(session: Session, after: dt.date, until: dt.date, scope: Scope = EVERYONE) -> dict[str, int]:
    """Amounts billed per currency on invoices issued in (after, until], voided ones excepted."""
    rows = session.execute(select(Invoice.currency, func.sum(Invoice.amount_minor))
                           .join(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.issue_date > after, Invoice.issue_date <= until, Invoice.status != "void",
                                  scope.clause(Invoice.currency))
                           .group_by(Invoice.currency))
    return {currency: int(total) for currency, total in rows if total}


def sales_by_day(session: Session, after: dt.date, until: dt.date, scope: Scope = EVERYONE
                 ) -> dict[tuple[str, dt.date], int]:
    """Amounts billed per (currency, issue date) for issue dates in (after, until], voided invoices excepted."""
    rows = session.execute(select(Invoice.currency, Invoice.issue_date, func.sum(Invoice.amount_minor))
                           .join(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.issue_date > after, Invoice.issue_date <= until, Invoice.status != "void",
                                  scope.clause(Invoice.currency))
                           .group_by(Invoice.currency, Invoice.issue_date))
    return {(currency, issued): int(total) for currency, issued, total in rows if total}


def _sales_by_period(sold: dict[tuple[str, dt.date], int], as_of: dt.date, convert: Converter,
                     apart: dict[str, dict[str, int]]) -> list[int]:
    """Sales in each of the twelve 30-day periods before `as_of`, latest first, in the base currency."""
    periods = [defaultdict(int) for _ in range(formulas.PERIODS)]
    for (currency, issued), total in sold.items():
        periods[(as_of - issued).days // formulas.PERIOD_DAYS][currency] += total
    result = []
    for index, by_currency in enumerate(periods, start=1):
        converted, missing = convert.total(by_currency)
        if missing:
            apart[f"sales period {index}"] = missing
        result.append(converted)
    return result


def cash_collected(session: Session, after: dt.date, until: dt.date, scope: Scope = EVERYONE) -> dict[str, int]:
    """Cash per currency recorded on days in (after, until]: payments and import reductions, less refunds."""
    rows = session.execute(select(BalanceChange.currency, func.sum(BalanceChange.amount_minor))
                           .join(Customer, Customer.id == BalanceChange.customer_id)
                           .where(*cash_conditions(after, until, scope)).group_by(BalanceChange.currency))
    return {currency: -int(total) for currency, total in rows if total}


def cash_by_day(session: Session, org: Organization, after: dt.date, until: dt.date, scope: Scope = EVERYONE
                ) -> dict[tuple[dt.date, str], tuple[int, int]]:
    """Per (day, currency) on days in (after, until]: the cash collected, and the part of it from customers Plixo
    had e-mailed on one of the 14 days up to the day it came."""
    sent = emailed_days(session, org, after)
    result: dict[tuple[dt.date, str], list[int]] = defaultdict(lambda: [0, 0])
    for customer_id, day, currency, total in session.execute(
            select(BalanceChange.customer_id, BalanceChange.day, BalanceChange.currency,
                   func.sum(BalanceChange.amount_minor))
            .join(Customer, Customer.id == BalanceChange.customer_id).where(*cash_conditions(after, until, scope))
            .group_by(BalanceChange.customer_id, BalanceChange.day, BalanceChange.currency)):
        if total:
            entry = result[(day, currency)]
            entry[0] -= int(total)
            entry[1] -= int(total) if after_email(sent.get(customer_id, []), day) else 0
    return {key: (cash, after) for key, (cash, after) in result.items() if cash or after}


def emailed_days(session: Session, org: Organization, after: dt.date, customer_ids: set[int] | None = None
                 ) -> dict[int, list[dt.date]]:
    """The workspace-local days each customer (of `customer_ids`, or all) was e-mailed, from 14 days before `after`
    on, in order."""
    zone = ZoneInfo(org.time_zone)
    since = dt.datetime.combine(after - dt.timedelta(days=AFTER_EMAIL_DAYS), dt.time(), zone)
    query = select(Message.customer_id, Message.sent_at).where(Message.sent_at >= since)
    if customer_ids is not None:
        query = query.where(Message.customer_id.in_(customer_ids))
    sent: dict[int, list[dt.date]] = defaultdict(list)
    for customer_id, sent_at in session.execute(query.order_by(Message.sent_at)):
        sent[customer_id].append(sent_at.astimezone(zone).date())
    return sent


def after_email(days: list[dt.date], day: dt.date) -> bool:
    """Whether one of the ordered `days` falls in the 14 days up to `day`."""
    latest = bisect_right(days, day)  # e-mails sent on or before the day the cash came
    return bool(latest) and days[latest - 1] >= day - dt.timedelta(days=AFTER_EMAIL_DAYS)


def cash_conditions(after: dt.date, until: dt.date, scope: Scope) -> list:
    return [BalanceChange.kind.in_(CASH_KINDS), BalanceChange.day > after, BalanceChange.day <= until,
            scope.clause(BalanceChange.currency)]


def _cei_start(session: Session, org: Organization, as_of: dt.date, reading: Reading, convert: Converter
               ) -> tuple[int, str]:
    """Open A/R at the start of the CEI window: that day's snapshot when there is one (whole workspace only), else
    worked out from the recorded balance changes."""
    start = as_of - dt.timedelta(days=CEI_WINDOW_DAYS)
    if reading.scope == EVERYONE:
        snapshot = session.scalar(select(DailySnapshot.metrics).where(DailySnapshot.day == start))
        kpis = (snapshot or {}).get("kpis") or {}
        if kpis.get("currency") == org.base_currency and "open_ar_minor" in kpis:
            return int(kpis["open_ar_minor"]), "snapshot"
    by_currency = {c: sum(b.values()) for c, b in reading.open_ar(start).items()}
    return convert.total(by_currency)[0], "ledger"


def disputed(session: Session, scope: Scope = EVERYONE) -> dict[str, int]:
    """What open disputes contest today, per currency."""
    rows = session.execute(select(Invoice.currency, func.sum(disputed_amount()))
                           .select_from(Dispute).join(Invoice, Invoice.id == Dispute.invoice_id)
                           .join(Customer, Customer.id == Invoice.customer_id)
                           .where(Dispute.status.in_(OPEN_DISPUTE_STATUSES), scope.clause(Invoice.currency))
                           .group_by(Invoice.currency))
    return {currency: int(total) for currency, total in rows if total}


def promise_adherence(session: Session, as_of: dt.date, scope: Scope, convert: Converter,
                      apart: dict[str, dict[str, int]]) -> dict:
    """Kept / (kept + broken) among promises due in the 90 days to `as_of`, by count and by amount; the amount at
    risk: pending promises due within 7 days plus broken promises whose invoice is still unpaid."""
    window = and_(Promise.promised_date > as_of - dt.timedelta(days=PROMISE_WINDOW_DAYS),
                  Promise.promised_date <= as_of)
    rows = session.execute(select(Promise.status, Promise.currency, func.count(), func.sum(Promise.amount_minor))
                           .join(Customer, Customer.id == Promise.customer_id)
                           .where(window, Promise.status.in_(("kept", "broken")), scope.clause(Promise.currency))
                           .group_by(Promise.status, Promise.currency)).all()
    counts = {status: sum(n for s, _c, n, _t in rows if s == status) for status in ("kept", "broken")}
    amounts = {}
    for status in ("kept", "broken"):
        amounts[status], missing = convert.total({c: int(t) for s, c, _n, t in rows if s == status})
        if missing:
            apart[f"promises {status}"] = missing
    soon = and_(Promise.status == "pending", Promise.promised_date <= as_of + dt.timedelta(days=AT_RISK_DAYS))
    unpaid_broken = and_(Promise.status == "broken", Invoice.status.in_(OPEN_STATUSES), Invoice.balance_minor > 0)
    risk_rows = session.execute(select(Promise.currency, func.sum(Promise.amount_minor))
                                .join(Invoice, Invoice.id == Promise.invoice_id)
                                .join(Customer, Customer.id == Promise.customer_id)
                                .where(or_(soon, unpaid_broken), scope.clause(Promise.currency))
                                .group_by(Promise.currency))
    at_risk, missing = convert.total({currency: int(total) for currency, total in risk_rows if total})
    if missing:
        apart["promises at risk"] = missing
    decided = counts["kept"] + counts["broken"]
    return {"kept": counts["kept"], "broken": counts["broken"],
            "kept_rate_count": counts["kept"] / decided if decided else None,
            "kept_amount_minor": amounts["kept"], "broken_amount_minor": amounts["broken"],
            "kept_rate_amount": formulas.share(amounts["kept"], amounts["kept"] + amounts["broken"]),
            "at_risk_minor": at_risk}


def owed_by_customer(session: Session, today: dt.date, scope: Scope = EVERYONE) -> dict[tuple[int, str], int]:
    """Today's open balance per (customer, currency), of invoices issued by today."""
    rows = session.execute(select(Invoice.customer_id, Invoice.currency, func.sum(Invoice.balance_minor))
                           .join(Customer, Customer.id == Invoice.customer_id)
                           .where(Invoice.status.in_(OPEN_STATUSES), Invoice.issue_date <= today,
                                  scope.clause(Invoice.currency))
                           .group_by(Invoice.customer_id, Invoice.currency))
    return {(customer_id, currency): int(total) for customer_id, currency, total in rows if total}


def exposure(session: Session, reading: Reading, as_of: dt.date, convert: Converter, open_total: int) -> dict:
    """The ten customers owing most today (in the base currency), their share of open A/R, and the share owed by
    high-risk customers."""
    if as_of < reading.today:
        return {"top": [], "top_share_percent": None, "high_risk_percent": None}
    owed: dict[int, int] = defaultdict(int)
    for (customer_id, currency), minor in reading.owed().items():
        value = convert(minor, currency)
        if value is not None:
            owed[customer_id] += value
    high = set(session.scalars(select(Customer.id).where(Customer.risk_tier == "high")))
    amounts = sorted(owed.values(), reverse=True)
    least = amounts[TOP_CUSTOMERS - 1] if len(amounts) >= TOP_CUSTOMERS else None
    candidates = [cid for cid, minor in owed.items() if least is None or minor >= least]  # ties go by name
    rows = session.execute(select(Customer.id, Customer.name, Customer.risk_tier)
                           .where(Customer.id.in_(candidates))) if candidates else []
    top = sorted(({"id": cid, "name": name, "risk_tier": tier, "minor": owed[cid]} for cid, name, tier in rows),
                 key=lambda entry: (-entry["minor"], entry["name"]))[:TOP_CUSTOMERS]
    high_total = sum(minor for customer_id, minor in owed.items() if customer_id in high)
    return {"top": top, "top_share_percent": formulas.share(sum(e["minor"] for e in top), open_total),
            "high_risk_percent": formulas.share(high_total, open_total)}
