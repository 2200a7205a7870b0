"""The demo workspace itself: Acme Robotics, its office clock, one teammate per role and their memberships."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.accounts.service import hash_password
from plixo.security import ROLES

DEMO_ORG_NAME = "Acme Robotics"
DEMO_ORG_SLUG = "acme-robotics"
DEMO_EMAIL_DOMAIN = "acme-robotics.example"
ORG_TIME_ZONE = "America/New_York"
ORG_ZONE = ZoneInfo(ORG_TIME_ZONE)

REMITTANCE_DETAILS = """Bank transfer (ACH or wire) to:
Account name: Acme Robotics, Inc.
Bank: First Harbor Bank, 200 Pier Street, Boston, MA 02110
Routing (ABA): 011000138 · Account: 4401 2287 9031
SWIFT/BIC (international wires): FHBKUS33
Reference: your invoice number(s)
Remittance advice to ar@acme-robotics.example"""
EMAIL_SIGNATURE = """Acme Robotics, Inc. · Accounts Receivable
1200 Innovation Way, Cambridge, MA 02139 · +1 617 555 0142
ar@acme-robotics.example"""

_TEAM_NAMES = {
    "controller": "Dana Whitfield",
    "ar_manager": "Marcus Chen",
    "operator": "Priya Raman",
    "billing_admin": "Tom Okafor",
    "cfo": "Elena Vasquez",
    "sales": "Jake Morrison",
    "csm": "Aisha Patel",
    "legal": "Robert Lindqvist",
}


@dataclass
class Team:
    """The workspace's users by role."""

    users: dict[str, User]

    def user(self, role: str) -> User:
        """The teammate holding `role`."""
        return self.users[role]

    def id_of(self, role: str) -> int | None:
        """The id of the teammate holding `role`, or None when nobody does."""
        user = self.users.get(role)
        return user.id if user else None


def create_org_and_team(session: Session, password: str) -> tuple[Organization, Team]:
    """The organization and one user per role, all signing in with `password`; flushed so both have ids."""
    org = Organization(
        name=DEMO_ORG_NAME, slug=DEMO_ORG_SLUG, legal_name="Acme Robotics, Inc.", time_zone=ORG_TIME_ZONE,
        base_currency="USD", brand_color="#0f766e", status="active",
        remittance_details=REMITTANCE_DETAILS, email_signature=EMAIL_SIGNATURE,
    )
    password_hash = hash_password(password)  # argon2 is deliberately slow: hash once, share it
    users = {
        role: User(email=f"{role.replace('_', '-')}@{DEMO_EMAIL_DOMAIN}", name=_TEAM_NAMES.get(role, title),
                   password_hash=password_hash)
        for role, title in ROLES.items()
    }
    session.add_all([org, *users.values()])
    session.flush()
    return org, Team(users)


def create_memberships_and_policy(session: Session, org_id: int, team: Team) -> None:
    """Each teammate's membership in their role, and the workspace's default outreach policy."""
    session.add(Policy(org_id=org_id))
    session.add_all(Membership(org_id=org_id, user_id=user.id, role=role) for role, user in team.users.items())
