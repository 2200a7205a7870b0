"""The weekly digest: an e-mail with the console's headline figures to the CFOs and controllers who asked for it,
once a week, through the server's SMTP relay (it concerns the workspace, not a payer, so not the outbox).

It carries the outbox's guarantees on a row of its own (`WeeklyDigest`, unique per workspace, member and ISO week):
1. The row is written before anything is sent; a second run (or a concurrent one) finds it and writes none.
2. A sender claims the row (`scheduled` -> `sending`, with a lease) in a conditional UPDATE committed before
   anything else: two senders never hold one row.
3. Just before the hand-over the row becomes `delivering`, committed. The outcome is recorded at once: `sent` only
   once the relay accepted the message; back to `scheduled` with a later time when the relay took nothing (no relay,
   a refused connection, a 4xx); `failed` when it refused for good or after the last retry; `unknown` when the
   connection broke mid-hand-over. A row found `sending` past its lease was never handed over and goes back to the
   queue; one found `delivering` past its lease may have left, so it is `unknown` and never sent again.
4. Nothing goes outside the workspace's quiet hours or on a day that is not a sending day (the same rules as payers'
   e-mails, `outreach.guardrails`, in the workspace's own time zone): a due digest waits for the next allowed moment.

The week's digest becomes due on its first sending day from 08:00 workspace time, outside quiet hours (Monday
morning for most workspaces); the cron checks hourly. A digest still unsent when its week ends is not sent late.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.accounts.system_mail import NoMailRelayError, account_message, send_account_message, sender_domain
from plixo.actions import ActionError
from plixo.insights.digest_mail import DigestContent, digest_content, render_digest
from plixo.insights.models import WeeklyDigest
from plixo.integrations.mail.outcomes import PermanentFailure, TransientFailure, UnknownOutcome
from plixo.model import utcnow
from plixo.outreach.guardrails import is_sending_day, may_send_at, next_allowed_moment
from plixo.security import ROLES, role_can

RECEIVE = "digest.receive"  # the permission that lets a member receive it: CFOs and controllers
SEND_FROM = dt.time(8, 0)  # workspace time, on the week's first sending day
LEASE = dt.timedelta(minutes=10)
RETRY_DELAYS = (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=3), dt.timedelta(hours=6))


def may_receive(role: str | None) -> bool:
    """Whether a member with `role` may have the weekly digest."""
    return role_can(role, RECEIVE)


def set_weekly_digest(session: Session, membership: Membership, wanted: bool, actor: User) -> bool:
    """Turn a member's weekly digest on or off; whether anything changed. Only CFOs and controllers may turn it on."""
    if wanted and not may_receive(membership.role):
        raise ActionError("The weekly digest goes to CFOs and controllers only.", "weekly_digest")
    if membership.weekly_digest == wanted:
        return False
    membership.weekly_digest = wanted
    audit.record(session, org_id=membership.org_id, actor=actor,
                 action="insights.weekly_digest_" + ("on" if wanted else "off"), subject=membership,
                 before={"weekly_digest": not wanted}, after={"weekly_digest": wanted})
    session.flush()
    return True


def last_sent(session: Session, user_id: int) -> dt.datetime | None:
    """When the member's latest digest of the current workspace was accepted by the relay."""
    return session.scalar(select(WeeklyDigest.sent_at).where(WeeklyDigest.user_id == user_id,
                                                             WeeklyDigest.status == "sent")
                          .order_by(WeeklyDigest.sent_at.desc()).limit(1))


def iso_week(day: dt.date) -> str:
    """The ISO week a workspace-local day falls in, as the digest's key: "2026-W50"."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def sending_moment(now: dt.datetime, zone: ZoneInfo, policy: Policy) -> dt.datetime | None:
    """When this week's digest becomes due: 08:00 on the week's first sending day, or the end of quiet hours if they
    run past eight; None when the policy allows no such moment this week."""
    local = now.astimezone(zone)
    monday = local.date() - dt.timedelta(days=local.weekday())
    for offset in range(7):
        day = monday + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, SEND_FROM, zone)
        if not is_sending_day(start, policy):
            continue
        moment = next_allowed_moment(start, zone, policy)
        if moment is not None and moment.astimezone(zone).date() == day:
            return moment
    return None


def send_digests(session: Session, org: Organization, config, now: dt.datetime | None = None) -> Counter[str]:
    """Send the current workspace's due weekly digests, each at most once; counts the outcomes (scheduled, sent,
    retry, failed, unknown, cancelled, deferred, requeued, expired). `now` stops the clock (tests, replays); without
    it leases are taken and checked on the real clock, however long the run has taken so far."""
    clock = (lambda: now) if now is not None else utcnow
    start = clock()
    outcomes: Counter[str] = Counter()
    zone = ZoneInfo(org.time_zone)
    week = iso_week(start.astimezone(zone).date())
    outcomes.update(_recover_stranded(session, clock()))
    outcomes["expired"] += _expire_earlier_weeks(session, week, start)
    policy = session.scalar(select(Policy))
    moment = sending_moment(start, zone, policy) if policy is not None else None
    if moment is None or start < moment:
        session.commit()
        return +outcomes
    outcomes["scheduled"] += _schedule(session, org.id, week, moment)
    if not may_send_at(start, zone, policy):
        outcomes["deferred"] += _defer(session, week, start, next_allowed_moment(start, zone, policy))
        session.commit()
        return +outcomes
    due = _due(session, week, start)
    if due:
        sending = _Sending(session, org, config, clock, zone, policy, week,
                           # Worked out before the first claim, so no lease runs out while the figures are.
                           digest_content(session, org, start.astimezone(zone).date(), config["PUBLIC_BASE_URL"]))
        for digest_id in due:
            if _claim(session, digest_id, start, clock() + LEASE):  # else another sender holds it
                outcomes[sending.send(digest_id)] += 1
    session.commit()
    return +outcomes


@dataclass
class _Sending:
    """One run's sending in one workspace: the figures (the same for every reader) and what each row needs."""

    session: Session
    org: Organization
    config: Mapping
    clock: Callable[[], dt.datetime]
    zone: ZoneInfo
    policy: Policy
    week: str
    content: DigestContent

    def send(self, digest_id: int) -> str:
        """Hand one claimed digest to the relay and record what happened."""
        recipient = _recipient(self.session, digest_id)
        if recipient is None:
            _record(self.session, digest_id, status="cancelled", claimed_until=None,
                    last_error="No longer an active CFO or controller with the weekly digest turned on.")
            return "cancelled"
        message, attempts = self._message(digest_id, *recipient)
        # From here on a crash means "may have left": the row is never sent again (see _recover_stranded).
        _record(self.session, digest_id, status="delivering", message_id_header=message["Message-ID"])
        try:
            send_account_message(self.config, message)
        except (NoMailRelayError, TransientFailure) as error:  # the relay took nothing: try again later
            return self._retry(digest_id, attempts, str(error))
        except PermanentFailure as error:
            _record(self.session, digest_id, status="failed", claimed_until=None, last_error=str(error)[:2000])
            return "failed"
        except UnknownOutcome as error:
            _record(self.session, digest_id, status="unknown", claimed_until=None,
                    last_error=f"Outcome unknown: {error}"[:2000])
            return "unknown"
        _record(self.session, digest_id, status="sent", sent_at=self.clock(), claimed_until=None, last_error=None)
        return "sent"

    def _message(self, digest_id: int, name: str, address: str) -> tuple[EmailMessage, int]:
        """The e-mail for the row's member, and how many attempts the row has had (this one included)."""
        user_id, attempts = self.session.execute(select(WeeklyDigest.user_id, WeeklyDigest.attempts)
                                                 .where(WeeklyDigest.id == digest_id)).one()
        subject, text, html = render_digest(self.content, name)
        message = account_message(self.config, to=address, subject=subject, body=text, html=html,
                                  message_id=_message_id(self.config, self.org.id, user_id, self.week))
        return message, attempts

    def _retry(self, digest_id: int, attempts: int, error: str) -> str:
        """Back to the queue after a pause (and outside quiet hours), or `failed` after the last retry."""
        moment = (next_allowed_moment(self.clock() + RETRY_DELAYS[attempts - 1], self.zone, self.policy)
                  if attempts <= len(RETRY_DELAYS) else None)
        if moment is None:
            _record(self.session, digest_id, status="failed", claimed_until=None, last_error=error[:2000])
            return "failed"
        _record(self.session, digest_id, status="scheduled", scheduled_for=moment, claimed_until=None,
                last_error=error[:2000])
        return "retry"


def _recover_stranded(session: Session, now: dt.datetime) -> Counter[str]:
    """Rows whose sender died: never handed over, back to the queue; perhaps handed over, `unknown`."""
    session.commit()
    expired = WeeklyDigest.claimed_until < now
    requeued = session.execute(
        update(WeeklyDigest).where(WeeklyDigest.status == "sending", expired)
        .values(status="scheduled", claimed_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    unknown = session.execute(
        update(WeeklyDigest).where(WeeklyDigest.status == "delivering", expired)
        .values(status="unknown", claimed_until=None, updated_at=now,
                last_error="The sender stopped while handing the e-mail to the relay; it is not sent again, so it "
                           "cannot arrive twice.")
        .execution_options(synchronize_session=False)).rowcount or 0
    session.commit()
    return Counter(requeued=requeued, unknown=unknown)


def _expire_earlier_weeks(session: Session, week: str, now: dt.datetime) -> int:
    """A digest of a week that has ended is stale: it is not sent late, next to the new week's."""
    expired = session.execute(
        update(WeeklyDigest).where(WeeklyDigest.status == "scheduled", WeeklyDigest.week != week)
        .values(status="expired", updated_at=now, last_error="Its week ended before it could be sent.")
        .execution_options(synchronize_session=False)).rowcount or 0
    session.commit()
    return expired


def _schedule(session: Session, org_id: int, week: str, moment: dt.datetime) -> int:
    """A row for each member who may and wants to receive this week's digest and has none yet; how many were added.
    The unique (workspace, member, week) makes a repeated or concurrent run add nothing."""
    receivers = [role for role in ROLES if may_receive(role)]
    user_ids = list(session.scalars(select(Membership.user_id).where(
        Membership.is_active.is_(True), Membership.weekly_digest.is_(True), Membership.role.in_(receivers))))
    session.commit()  # the insert starts its own transaction: on SQLite a write after a read may find it stale
    if not user_ids:
        return 0
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(WeeklyDigest)
    added = session.execute(
        insert.on_conflict_do_nothing(index_elements=["org_id", "user_id", "week"]).returning(WeeklyDigest.id),
        [{"org_id": org_id, "user_id": user_id, "week": week, "status": "scheduled", "scheduled_for": moment,
          "attempts": 0} for user_id in user_ids]).all()
    session.commit()
    return len(added)


def _defer(session: Session, week: str, now: dt.datetime, moment: dt.datetime | None) -> int:
    """Due digests wait for the end of quiet hours or the next sending day (this week's; else they expire)."""
    if moment is None:
        return 0
    deferred = session.execute(
        update(WeeklyDigest).where(WeeklyDigest.week == week, WeeklyDigest.status == "scheduled",
                                   WeeklyDigest.scheduled_for <= now)
        .values(scheduled_for=moment, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    session.commit()
    return deferred


def _due(session: Session, week: str, now: dt.datetime) -> list[int]:
    ids = list(session.scalars(select(WeeklyDigest.id).where(
        WeeklyDigest.week == week, WeeklyDigest.status == "scheduled", WeeklyDigest.scheduled_for <= now)
        .order_by(WeeklyDigest.id)))
    session.commit()
    return ids


def _claim(session: Session, digest_id: int, due_by: dt.datetime, lease_until: dt.datetime) -> bool:
    """Lease one due row to this sender, committed before anything is sent; False when another sender has it."""
    session.commit()  # a write in a transaction of its own (on SQLite a write after a read may find it stale)
    claimed = session.execute(
        update(WeeklyDigest).where(WeeklyDigest.id == digest_id, WeeklyDigest.status == "scheduled",
                                   WeeklyDigest.scheduled_for <= due_by)
        .values(status="sending", claimed_until=lease_until, attempts=WeeklyDigest.attempts + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return bool(claimed)


def _recipient(session: Session, digest_id: int) -> tuple[str, str] | None:
    """(name, address) of the row's member, while they are active, eligible and still want the digest."""
    row = session.execute(
        select(User.name, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .join(WeeklyDigest, WeeklyDigest.user_id == User.id)
        .where(WeeklyDigest.id == digest_id, Membership.is_active.is_(True), Membership.weekly_digest.is_(True))
    ).first()
    if row is None or not may_receive(row.role):
        return None
    return row.name, row.email


def _record(session: Session, digest_id: int, **values) -> None:
    """Write the row's new state in a transaction of its own (on SQLite a write after a read may find it stale)."""
    session.commit()
    session.execute(update(WeeklyDigest).where(WeeklyDigest.id == digest_id)
                    .values(updated_at=utcnow(), **values)
                    .execution_options(synchronize_session=False))
    session.commit()


def _message_id(config, org_id: int, user_id: int, week: str) -> str:
    """One Message-ID for every attempt of a digest, keyed with the app's secret so it cannot be guessed."""
    key = config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"digest:{org_id}:{user_id}:{week}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{digest}.digest@{sender_domain(config)}>"
