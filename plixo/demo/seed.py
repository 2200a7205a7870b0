"""A deterministic demo workspace, "Acme Robotics", with 18 months of believable receivables history.

All randomness comes from one `random.Random(seed)` and every date is relative to `today`, so the
same seed and day always give the same ledger while the pages still look current. The ledger is
first planned as plain data (who is billed what, and who pays when) and only then written as ORM
rows in a handful of batched flushes: per-row flushes would make thousands of invoices take minutes.
Each step lives in the module named after its subject (customers, invoices, payments, promises, ...);
history.py writes what the CFO console reads of the past: balance changes, exchange rates, snapshots.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from plixo import audit
from plixo.demo.approvals import write_approvals
from plixo.demo.cadences import write_shadow_cadence
from plixo.demo.customers import add_contacts, create_customers
from plixo.demo.disputes import plan_disputes, write_disputes
from plixo.demo.history import back_fill_snapshots, write_balance_history, write_exchange_rates
from plixo.demo.holds import write_holds
from plixo.demo.invoices import plan_invoices
from plixo.demo.mentions import write_mentions_and_suggestion
from plixo.demo.notes import write_notes
from plixo.demo.payments import write_invoices_and_payments
from plixo.demo.promises import plan_promises, write_promises
from plixo.demo.reminders import write_reminders
from plixo.demo.replies import write_replies
from plixo.demo.workspace import ORG_TIME_ZONE, create_memberships_and_policy, create_org_and_team
from plixo.ledger.aging import local_today
from plixo.ledger.priority import refresh_priorities
from plixo.tenancy import tenant_scope

DEMO_PASSWORD = "plixo-demo-2026"  # noqa: S105 - demo-only, printed to the developer by `make run`


@dataclass
class DemoResult:
    """What `seed_demo` created: the workspace, who can sign in, and headline counts."""

    org_id: int
    logins: list[tuple[str, str, str]]  # (role, email, name)
    customers: int
    invoices: int
    payments: int
    snapshots: int = 0


def seed_demo(
    session: Session, *, invoices: int = 3000, seed: int = 7, today: dt.date | None = None,
    with_snapshots: bool = True
) -> DemoResult:
    """Create the Acme Robotics demo workspace billing about `invoices` invoices a year, with its history since
    18 months ago (and the three months before, the ERP's); the caller commits. `with_snapshots=False` leaves out the
    console's back-filled snapshots, the slowest step (seconds), for callers that only need today's workspace."""
    today = today or local_today(ORG_TIME_ZONE)
    # Every step draws from this one generator, so their order is part of the data: moving a step changes every
    # row drawn after it.
    rng = random.Random(seed)
    org, team = create_org_and_team(session, DEMO_PASSWORD)
    with tenant_scope(org.id):
        create_memberships_and_policy(session, org.id, team)
        accounts = create_customers(session, org.id, rng, team, max(10, invoices // 12), today)
        contact_count = add_contacts(session, org.id, rng, accounts, today)
        ledger = plan_invoices(rng, accounts, invoices, today)
        promises = plan_promises(rng, ledger, today)
        disputed = plan_disputes(rng, ledger, today)
        payments_by_receipt = write_invoices_and_payments(session, org.id, rng, ledger, today)
        changes = write_balance_history(session, org.id, ledger, payments_by_receipt)
        write_promises(session, org.id, rng, promises, payments_by_receipt, team)
        disputes = write_disputes(session, org.id, rng, disputed, team, today, ledger)
        write_notes(session, org.id, rng, ledger, team, today)
        write_holds(session, org.id, rng, accounts, ledger, team, today)
        session.flush()
        write_approvals(session, org.id, ledger, disputes, team, today)
        write_mentions_and_suggestion(session, org, ledger, disputes, team, today)
        refresh_priorities(session, org.id, org.base_currency, today)
        write_shadow_cadence(session, org, team, today)  # draws nothing from rng: the ledger stays as it was
        write_replies(session, org, today)  # nor does this: replies to the largest overdue invoices
        reminders = write_reminders(session, org.id, rng, ledger, today)
        rates = write_exchange_rates(session, org, rng, team, today)
        snapshots = back_fill_snapshots(session, org, today) if with_snapshots else 0  # last: it reads all above
        payment_count = len(payments_by_receipt)  # keyed by (customer, day): one entry per payment
        audit.record(
            session, org_id=org.id, actor="system", action="demo.seeded", subject=org,
            after={"seed": seed, "today": today.isoformat(), "users": len(team.users), "customers": len(accounts),
                   "contacts": contact_count, "invoices": len(ledger), "payments": payment_count,
                   "promises": len(promises), "disputes": len(disputes), "balance_changes": changes,
                   "reminders": reminders, "exchange_rates": rates, "snapshots": snapshots},
        )
        session.flush()
    logins = [(role, user.email, user.name) for role, user in team.users.items()]
    return DemoResult(org_id=org.id, logins=logins, customers=len(accounts), invoices=len(ledger),
                      payments=payment_count, snapshots=snapshots)
