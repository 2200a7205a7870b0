"""What the rest of the team finds on their customer pages: notes that @mention Sales, CSM and Legal (each with its
notification), and one reminder Sales suggested that waits for a collector's review.

Written through the same rules the pages use (notes.service, outreach.nudges), so the notifications link where
they would in use. Nothing here draws from the seed's generator: the choices follow from the ledger alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import ORG_ZONE, Team
from plixo.disputes.models import Dispute
from plixo.ledger.eligibility import stopping_reasons_by_invoice
from plixo.notes import service as notes
from plixo.outreach import nudges


def write_mentions_and_suggestion(session: Session, org: Organization, ledger: list[PlannedInvoice],
                                  disputes: list[tuple[Dispute, PlannedInvoice]], team: Team, today: dt.date) -> None:
    """Notes mentioning Legal (on the largest dispute), Sales and CSM (on the largest overdue account), and a
    suggested reminder from Sales on a recently overdue invoice."""
    if not {"operator", "sales", "csm", "legal"} <= set(team.users):
        return
    collector = team.user("operator")
    if disputes:
        _, disputed = max(disputes, key=lambda pair: (pair[1].balance_minor, pair[1].number))
        notes.add_note(session, org, disputed.row, collector,
                       f"@{_handle(team, 'legal')} the customer says the contract caps this at the old price. "
                       "Could you check clause 4 before we answer?")
    eligible = _eligible(session, ledger, today)
    if not eligible:
        return
    largest = max(eligible, key=lambda inv: (inv.balance_minor, inv.number))
    notes.add_customer_note(session, org, largest.account.customer, collector,
                            f"@{_handle(team, 'sales')} @{_handle(team, 'csm')} they are renewing next month: "
                            "can we settle the overdue balance as part of the renewal call?")
    recent = [inv for inv in eligible if 1 <= (today - inv.due_date).days <= 30] or eligible
    nudged = max(recent, key=lambda inv: (inv.balance_minor, inv.number))
    now = dt.datetime.combine(today, dt.time(15, 0), tzinfo=ORG_ZONE).astimezone(dt.UTC)  # the demo's own day
    subject, body = nudges.nudge_draft(session, org, nudged.row, now)
    nudges.suggest_nudge(session, org, nudged.row, team.user("sales"), "sales", subject, body, now)


def _handle(team: Team, role: str) -> str:
    """How a note mentions the teammate: their first name, as people type it."""
    return team.user(role).name.split()[0].lower()


def _eligible(session: Session, ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedInvoice]:
    """Open, overdue invoices outreach may touch (no hold, plan, dispute or opt-out)."""
    overdue = [inv for inv in ledger if inv.row.status == "open" and inv.balance_minor > 0 and inv.due_date < today]
    stops = stopping_reasons_by_invoice(session, [inv.row.id for inv in overdue], today)
    return [inv for inv in overdue if not stops.get(inv.row.id)]
