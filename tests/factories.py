"""Test data builders: make_thing(**overrides) with realistic defaults. Callers commit when needed."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache

from sqlalchemy import select

from plixo.accounts.models import Invite, Membership, Organization, Policy, User
from plixo.accounts.service import hash_password
from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.ledger.aging import local_today
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.mail.models import SendingDomain
from plixo.model import TenantMixin, utcnow
from plixo.promises.plans import Installment
from plixo.tenancy import tenant_scope, unscoped

PASSWORD = "test-password-long-enough"
WORKSPACE_TIME_ZONE = "America/New_York"
_seq = itertools.count(1)


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is deliberately slow: hash once per run


def _add(obj):
    # A tenant row is written as its own workspace, as the app writes it (the database checks the workspace).
    with tenant_scope(obj.org_id) if isinstance(obj, TenantMixin) else unscoped():
        db.session.add(obj)
        db.session.flush()
    return obj


def across_workspaces(statement) -> list:
    """A read of workspace-only tables run in every workspace's scope in turn, rows gathered (workspace by
    workspace): how a test checks an outcome without saying where it landed."""
    with unscoped():
        org_ids = list(db.session.scalars(select(Organization.id).order_by(Organization.id)))
    rows = []
    for org_id in org_ids:
        with tenant_scope(org_id):
            rows.extend(db.session.scalars(statement))
    return rows


def workspace_today(time_zone: str = WORKSPACE_TIME_ZONE) -> dt.date:
    """Today where the workspace is: the date its services use, not the test machine's (CI runs on UTC)."""
    return local_today(time_zone)


TODAY = workspace_today()
# Who acts when the payer does something in the portal (the actor label the portal's actions carry).
PAYER = "Payer portal (ap@globex.example)"


def audited(action: str) -> bool:
    """Whether an audit event with this action was recorded."""
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action)) is not None


def plan_of(*parts: int) -> list[Installment]:
    """Installments of these amounts, a month apart, the first a month from today."""
    return [Installment(TODAY + dt.timedelta(days=30 * (n + 1)), amount) for n, amount in enumerate(parts)]


def make_org(**overrides) -> Organization:
    n = next(_seq)
    values = {"name": f"Workspace {n}", "slug": f"workspace-{n}", "time_zone": WORKSPACE_TIME_ZONE,
              "base_currency": "USD"}
    org = _add(Organization(**{**values, **overrides}))
    _add(Policy(org_id=org.id))
    return org


def make_user(org: Organization, role: str = "controller", **overrides) -> User:
    n = next(_seq)
    user = _add(User(**{"email": f"user{n}@firm{org.id}.example", "name": f"User {n}",
                        "password_hash": password_hash(), **overrides}))
    _add(Membership(org_id=org.id, user_id=user.id, role=role))
    return user


def membership_of(user: User) -> Membership:
    """The user's first membership (the workspace they were created in)."""
    with unscoped():
        return db.session.query(Membership).filter_by(user_id=user.id).order_by(Membership.id).first()


def make_invite(org: Organization, invited_by: User, **overrides) -> Invite:
    n = next(_seq)
    values = {"email": f"invitee{n}@firm{org.id}.example", "role": "operator", "token_hash": f"{n:064x}",
              "invited_by_id": invited_by.id, "expires_at": utcnow() + dt.timedelta(days=7)}
    return _add(Invite(org_id=org.id, **{**values, **overrides}))


def make_customer(org: Organization, **overrides) -> Customer:
    n = next(_seq)
    values = {"external_id": f"C-{n:05d}", "name": f"Customer {n} Ltd", "risk_tier": "medium"}
    return _add(Customer(org_id=org.id, **{**values, **overrides}))


def make_contact(customer: Customer, **overrides) -> Contact:
    n = next(_seq)
    values = {"email": f"ap{n}@customer{customer.id}.example", "is_primary": True, "name": f"Payables {n}"}
    return _add(Contact(org_id=customer.org_id, customer_id=customer.id, **{**values, **overrides}))


def make_invoice(org: Organization, customer: Customer | None = None, **overrides) -> Invoice:
    n = next(_seq)
    customer = customer or make_customer(org)
    today = local_today(org.time_zone)
    values = {"number": f"INV-{n:06d}", "issue_date": today - dt.timedelta(days=40),
              "due_date": today - dt.timedelta(days=10), "currency": "USD", "amount_minor": 125_000,
              "balance_minor": 125_000, "status": "open", "source": "manual"}
    return _add(Invoice(org_id=org.id, customer_id=customer.id, **{**values, **overrides}))


def make_ready_sender(org: Organization, address: str = "ar@acme.example") -> SendingDomain:
    """A connected inbox (SMTP + IMAP) at `address` whose domain passed its SPF, DKIM and DMARC checks: what
    Autopilot needs from deliverability. No server is contacted."""
    domain = address.rsplit("@", 1)[1]
    with tenant_scope(org.id):
        existing = db.session.scalar(select(SendingDomain).where(SendingDomain.org_id == org.id,
                                                                 SendingDomain.domain == domain))
    if existing is not None:
        return existing
    _add(Connection(org_id=org.id, kind="email", provider="smtp", status="active", display_name=address,
                    external_account_id=address, secrets='{"password": "x"}',
                    settings={"address": address, "display_name": "", "smtp_host": "127.0.0.1", "smtp_port": 1,
                              "imap_host": "127.0.0.1", "imap_port": 1, "username": address,
                              "imap_uidvalidity": 1, "imap_last_uid": 0}))
    verified = {record: {"state": "verified", "found": "", "expected": ""} for record in ("spf", "dkim", "dmarc")}
    return _add(SendingDomain(org_id=org.id, domain=domain, dkim_selector="plixo1", dkim_private_key="unused",
                              dkim_public_key="", checks=verified, checked_at=utcnow()))
