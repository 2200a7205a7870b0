"""When a workspace may e-mail a customer: quiet hours, business hours and sending days, in the
customer's own IANA time zone.

Wall-clock rules are evaluated on local time, but time is always advanced in UTC and converted back, so a
daylight-saving change can neither skip an allowed moment nor produce a local time that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from plixo.accounts.models import Organization
    from plixo.ledger.models import Invoice

STEP = dt.timedelta(minutes=15)
SEARCH_LIMIT = dt.timedelta(days=14)


class SendingWindow(Protocol):
    """What the rules read from a workspace Policy."""

    quiet_hours_start: dt.time
    quiet_hours_end: dt.time
    business_hours_start: dt.time
    business_hours_end: dt.time
    sending_days: list


def _within(start: dt.time, end: dt.time, moment: dt.time) -> bool:
    """Whether a wall-clock time falls in [start, end), a window that may span midnight."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def in_quiet_hours(local: dt.datetime, policy: SendingWindow) -> bool:
    """Whether a local time falls in the policy's quiet hours (which may span midnight)."""
    return _within(policy.quiet_hours_start, policy.quiet_hours_end, local.time())


def in_business_hours(local: dt.datetime, policy: SendingWindow) -> bool:
    return _within(policy.business_hours_start, policy.business_hours_end, local.time())


def is_sending_day(local: dt.datetime, policy: SendingWindow) -> bool:
    return local.weekday() in (policy.sending_days or [])


def may_send_at(moment: dt.datetime, zone: ZoneInfo, policy: SendingWindow, business_hours: bool = False) -> bool:
    """Whether an e-mail may go at `moment` to someone in `zone` (within business hours too, if asked)."""
    local = moment.astimezone(zone)
    if not is_sending_day(local, policy) or in_quiet_hours(local, policy):
        return False
    return in_business_hours(local, policy) if business_hours else True


def next_allowed_moment(now: dt.datetime, zone: ZoneInfo, policy: SendingWindow,
                        business_hours: bool = False) -> dt.datetime | None:
    """The first instant at or after `now` when an e-mail may go, or None if the policy allows none
    within two weeks (no sending days, say)."""
    if may_send_at(now, zone, policy, business_hours):
        return now
    moment = _next_step(now)
    limit = now + SEARCH_LIMIT
    while moment <= limit:
        if may_send_at(moment, zone, policy, business_hours):
            return moment
        moment += STEP
    return None


def _next_step(moment: dt.datetime) -> dt.datetime:
    # Quarter hours in UTC are quarter hours in every zone with whole-quarter offsets (all real ones today).
    utc = moment.astimezone(dt.UTC)
    floored = utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)
    return floored + STEP


def customer_zone(invoice: Invoice, org: Organization) -> ZoneInfo:
    """The customer's IANA time zone, falling back to the workspace's."""
    return ZoneInfo(invoice.customer.time_zone or org.time_zone)
