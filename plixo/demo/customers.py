"""The demo's customers, the traits that drive their billing and paying, and the AP contacts reminders go to."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from plixo.demo.draws import business_instant, first_issue_day, weighted
from plixo.demo.workspace import Team
from plixo.ledger.models import Contact, Customer

_OWNER_ROLES = ("operator", "ar_manager")

# (value, weight) tables; weights are relative shares, not percentages that must add up.
_RISK_TIERS = (("low", 50), ("medium", 35), ("high", 15))
_CUSTOMER_ZONES = (
    ("America/New_York", 28), ("America/Chicago", 17), ("America/Denver", 8), ("America/Los_Angeles", 17),
    ("Europe/London", 7), ("Europe/Berlin", 6), ("Asia/Singapore", 3), ("Australia/Sydney", 3), (None, 11),
)
_PAYMENT_TERMS = ((15, 15), (30, 50), (45, 20), (60, 15))
_LEGAL_SUFFIX_BY_ZONE = {
    "Europe/London": "Ltd", "Europe/Berlin": "GmbH", "Asia/Singapore": "Pte. Ltd.", "Australia/Sydney": "Pty Ltd",
}
_US_LEGAL_SUFFIXES = ("Inc.", "Inc.", "LLC", "Corp.", "Co.")

_NAME_REGIONS = ("Pacific", "Atlantic", "Great Lakes", "Midwest", "Coastal", "Northern", "Southern", "Global")
_NAME_LEADS = (
    "Northwind", "Bluebird", "Granite", "Summit", "Harbor", "Cobalt", "Redwood", "Keystone", "Pioneer",
    "Silverline", "Ironclad", "Brightwater", "Evergreen", "Lakeside", "Meridian", "Orion", "Polar", "Quantum",
    "Riverbend", "Sterling", "Tidewater", "Vertex", "Westfield", "Apex", "Beacon", "Cascade", "Crescent",
    "Falcon", "Horizon", "Juniper", "Liberty", "Maple", "Nimbus", "Oakridge", "Pinnacle", "Sequoia",
    "Trident", "Vanguard", "Zenith", "Copperfield", "Ashford", "Bramble", "Cedar Point", "Driftwood",
)
_NAME_TRADES = (
    "Logistics", "Manufacturing", "Foods", "Health", "Energy", "Systems", "Industrial", "Labs", "Packaging",
    "Components", "Freight", "Automation", "Materials", "Pharma", "Textiles", "Analytics", "Electric",
    "Aerospace", "Marine", "Construction", "Retail", "Supply", "Tooling", "Fabrication", "Precision",
    "Dynamics", "Medical Devices", "Plastics", "Warehousing", "Machining",
)
_TAGS = ("enterprise", "strategic", "reseller", "government", "key-account", "ach-only", "po-required", "net-terms")

_FIRST_NAMES = (
    "Alex", "Jordan", "Maria", "James", "Linda", "Wei", "Fatima", "Carlos", "Hannah", "Oliver", "Sofia", "Noah",
    "Grace", "Liam", "Chloe", "Raj", "Yuki", "Ingrid", "Mateo", "Zoe", "Samuel", "Nina", "Derek", "Leah",
)
_LAST_NAMES = (
    "Johnson", "Garcia", "Nguyen", "Smith", "Kowalski", "Müller", "Brown", "Okoye", "Tanaka", "Rossi", "Clarke",
    "Schneider", "Lee", "Murphy", "Singh", "Andersen", "Dubois", "Walker", "Hughes", "Ortiz", "Fischer", "Park",
)
_AP_MAILBOXES = ("ap", "ap", "ap", "accounts.payable", "billing", "finance", "invoices")


@dataclass(frozen=True)
class Habit:
    """How a customer pays: days after the due date (mean, spread) and the share of invoices it never settles."""

    lateness: tuple[float, float]
    never_pays: float


HABITS = {
    "early": Habit((-6.0, 4.0), 0.003),
    "on_time": Habit((0.0, 3.0), 0.006),
    "few_days_late": Habit((8.0, 9.0), 0.025),
    "chronic": Habit((45.0, 30.0), 0.1),
    "slipping": Habit((110.0, 35.0), 0.15),  # pays, but only once an invoice is 90+ days past due
}
# Most customers pay a few days late; low-risk ones are the early and punctual payers, high-risk ones the late.
_HABITS_BY_TIER = {
    "low": (("early", 30), ("on_time", 40), ("few_days_late", 30)),
    "medium": (("on_time", 5), ("few_days_late", 55), ("chronic", 40)),
    "high": (("few_days_late", 20), ("chronic", 80)),
}
_SLIPPING_CUSTOMERS = 2
_STRIPE_PAYERS = 0.3  # share of customers who mostly pay by card through Plixo's pay links (Stripe)


@dataclass
class Account:
    """A customer plus the traits that drive its invoices and payments (not all of them are stored)."""

    customer: Customer
    slug: str
    currency: str
    terms_days: int
    typical_major: float  # median invoice size in major units
    volume_weight: float  # relative share of the invoice volume
    habit: str = "few_days_late"  # a key of HABITS
    lateness_shift: float = 0.0  # this customer's own days on top of its habit's
    stripe_share: float = 0.0  # chance that one of its payments comes through Stripe rather than a bank transfer
    contacts: list[Contact] = field(default_factory=list)

    @property
    def primary(self) -> Contact | None:
        """The contact reminders go to first, if the customer has any."""
        return self.contacts[0] if self.contacts else None


def create_customers(
    session: Session, org_id: int, rng: random.Random, team: Team, count: int, today: dt.date
) -> list[Account]:
    """`count` customers with the traits that drive their billing, owned by the collectors; flushed for ids."""
    owners = [team.user(role) for role in _OWNER_ROLES if role in team.users]
    taken_slugs: set[str] = set()
    accounts = []
    for index in range(count):
        zone = weighted(rng, _CUSTOMER_ZONES)
        name, slug = _company_name(rng, zone, taken_slugs)
        tier = weighted(rng, _RISK_TIERS)
        customer = Customer(
            org_id=org_id, external_id=f"C-{10001 + index}", name=name, risk_tier=tier,
            time_zone=zone, owner_id=rng.choice(owners).id if owners else None, tags=_customer_tags(rng),
            created_at=business_instant(rng, first_issue_day(today) - dt.timedelta(days=rng.randint(1, 900))),
        )
        accounts.append(Account(
            customer=customer, slug=slug, currency=_billing_currency(rng, zone),
            terms_days=weighted(rng, _PAYMENT_TERMS),
            typical_major=math.exp(rng.uniform(math.log(600), math.log(15_000))),
            volume_weight=min(rng.paretovariate(1.6), 12.0),  # a few big accounts carry much of the volume
            habit=weighted(rng, _HABITS_BY_TIER[tier]), lateness_shift=rng.gauss(0.0, 2.0),
            stripe_share=_stripe_share(rng, customer.tags),
        ))
    _mark_slipping(rng, accounts)
    session.add_all(account.customer for account in accounts)
    session.flush()
    return accounts


def _stripe_share(rng: random.Random, tags: list[str]) -> float:
    """Card payers pay most invoices through Stripe; the rest wire money, which the ERP import reports."""
    if "ach-only" in tags:
        return 0.0
    return rng.uniform(0.7, 0.95) if rng.random() < _STRIPE_PAYERS else rng.uniform(0.0, 0.15)


def _mark_slipping(rng: random.Random, accounts: list[Account]) -> None:
    """One or two high-risk customers (medium-risk ones when there are too few) whose invoices slip into 90+."""
    risky = [a for a in accounts if a.customer.risk_tier == "high"] or [
        a for a in accounts if a.customer.risk_tier == "medium"]
    larger = sorted(risky, key=lambda a: -a.volume_weight)[:max(1, len(risky) // 2)]  # it shows in the totals
    count = min(len(larger), _SLIPPING_CUSTOMERS if len(accounts) >= 20 else 1)
    for account in rng.sample(larger, k=count):
        account.habit = "slipping"


def _company_name(rng: random.Random, zone: str | None, taken_slugs: set[str]) -> tuple[str, str]:
    """A company name not used yet, and the slug its e-mail domain is built from."""
    for attempt in range(40):
        words = [rng.choice(_NAME_LEADS), rng.choice(_NAME_TRADES)]
        if attempt >= 10 or rng.random() < 0.12:  # a regional prefix widens the pool once it runs dry
            words.insert(0, rng.choice(_NAME_REGIONS))
        base = " ".join(words)
        if _slugify(base) not in taken_slugs:
            break
    else:
        base = f"{base} {len(taken_slugs) + 1}"
    slug = _slugify(base)
    taken_slugs.add(slug)
    suffix = _LEGAL_SUFFIX_BY_ZONE.get(zone or "") or rng.choice(_US_LEGAL_SUFFIXES)
    return (f"{base} {suffix}" if rng.random() < 0.8 else base), slug


def _billing_currency(rng: random.Random, zone: str | None) -> str:
    """The one currency a customer is billed in, loosely following where it sits."""
    if zone == "Europe/London":
        return "GBP" if rng.random() < 0.85 else "USD"
    if zone == "Europe/Berlin":
        return "EUR" if rng.random() < 0.9 else "USD"
    if zone and zone.startswith("America/") and rng.random() < 0.07:
        return "CAD"
    return "EUR" if rng.random() < 0.02 else "USD"


def _customer_tags(rng: random.Random) -> list[str]:
    """No tags for most customers, one or two for the rest."""
    if rng.random() >= 0.15:
        return []
    return sorted(rng.sample(_TAGS, k=rng.choice((1, 1, 2))))


def add_contacts(
    session: Session, org_id: int, rng: random.Random, accounts: list[Account], today: dt.date
) -> int:
    """Add contacts (the primary first); some customers have none, some bounce or are suppressed."""
    rows = []
    for index, account in enumerate(accounts):
        if index % 25 == 7:
            continue  # 1 in 25 has nobody to e-mail: the "missing contact" state the queue must surface
        name = _person_name(rng)
        mailbox = rng.choice(_AP_MAILBOXES) if rng.random() < 0.75 else _mailbox_of(name)
        primary = _contact(org_id, account, name, mailbox, is_primary=True)
        _roll_deliverability(rng, primary, today)
        account.contacts.append(primary)
        if rng.random() < 0.2:
            second_name = _person_name(rng)
            second = _contact(org_id, account, second_name, _mailbox_of(second_name), is_primary=False)
            if second.email != primary.email:
                account.contacts.append(second)
        rows.extend(account.contacts)
    session.add_all(rows)
    return len(rows)


def _contact(org_id: int, account: Account, name: str, mailbox: str, *, is_primary: bool) -> Contact:
    """A contact at the customer's own e-mail domain."""
    return Contact(
        org_id=org_id, customer_id=account.customer.id, name=name, email=f"{mailbox}@{account.slug}.example",
        is_primary=is_primary, created_at=account.customer.created_at,
    )


def _roll_deliverability(rng: random.Random, contact: Contact, today: dt.date) -> None:
    """Make a few contacts bounce, hard or soft, or go quiet for a while."""
    roll = rng.random()
    if roll < 0.03:
        contact.bounce_kind = "hard"
        contact.bounced_at = business_instant(rng, today - dt.timedelta(days=rng.randint(5, 120)))
    elif roll < 0.05:
        contact.bounce_kind = "soft"
        contact.bounced_at = business_instant(rng, today - dt.timedelta(days=rng.randint(1, 10)))
    elif roll < 0.07:
        contact.suppressed_until = today + dt.timedelta(days=rng.randint(3, 21))  # e.g. out-of-office reply


def _slugify(text: str) -> str:
    """Lower-case words joined by hyphens, fit for an e-mail domain."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _person_name(rng: random.Random) -> str:
    """A first and last name from the demo's pool."""
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


def _mailbox_of(name: str) -> str:
    """A firstname.lastname mailbox in plain ASCII ("Müller" becomes "muller")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(re.sub(r"[^a-z]", "", part) for part in ascii_name.lower().split())
