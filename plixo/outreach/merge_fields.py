"""Merge fields: every figure and link in an e-mail is a `{name}` filled from the invoice, strictly.

Filling never guesses: an unknown field, or one with no value for this invoice (no portal link yet, say), is
reported and blocks sending, so a payer never receives "Dear {customer_name}" or an empty link.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from plixo.accounts.models import Organization
from plixo.ledger.aging import days_past_due
from plixo.ledger.disputed import disputed_parts, undisputed
from plixo.ledger.models import Invoice
from plixo.ledger.payer_links import LinkMaker
from plixo.money import format_money
from plixo.outreach.invoice_lists import list_values
from plixo.promises.models import Promise

MERGE_FIELDS = {
    "customer_name": "The customer's name",
    "invoice_number": "The invoice number",
    "amount_due": "The open balance, with currency (the undisputed rest when part of it is disputed)",
    "disputed_amount": "The part of the balance in open dispute, when a payer contests part of it",
    "due_date": "The due date",
    "days_past_due": "Days since the due date",
    "promise_date": "The date the payer last promised to pay by",
    "invoice_list": "Every invoice the e-mail is about, one line each: number, amount and due date",
    "total_due": "The total of the invoices listed (one total per currency when they differ)",
    "pay_link": "A link that opens payment for the current balance",
    "portal_link": "The customer's payment portal",
    "sender_name": "Your name",
    "signature": "The workspace's default signature (Admin → Workspace); added at the end when not placed",
}
# Fields that may have no value: filled with nothing rather than reported (a workspace without a signature).
OPTIONAL_FIELDS = ("signature", "disputed_amount")
LINK_FIELDS = ("pay_link", "portal_link")
_FIELD = re.compile(r"\{([^{}\s]*)\}")
DATE_FORMAT = "%-d %b %Y"


@dataclass(frozen=True)
class Filled:
    text: str
    unknown: tuple[str, ...]
    empty: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        found = [f"Unknown merge field {{{name}}}: use one of {', '.join(MERGE_FIELDS)}." for name in self.unknown]
        found += [f"{{{name}}} has no value for this invoice yet." for name in self.empty]
        return found


def fill(template: str, values: dict[str, str]) -> Filled:
    """The template with merge fields replaced; unknown and empty fields are left in place and reported."""
    unknown, empty = [], []

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in MERGE_FIELDS:
            unknown.append(name)
            return match.group(0)
        value = values.get(name) or ""
        if not value and name in OPTIONAL_FIELDS:
            return ""
        if not value:
            empty.append(name)
            return match.group(0)
        return value

    text = _FIELD.sub(replace, template)
    return Filled(text, tuple(dict.fromkeys(unknown)), tuple(dict.fromkeys(empty)))


def signed(text: str, signature: str) -> str:
    """The e-mail's text ending with the workspace's signature, unless it is empty or already in the text (the
    writer placed `{signature}`)."""
    signature = (signature or "").strip()
    if not signature or signature in text:
        return text
    return text.rstrip() + "\n\n" + signature


def signature_of(session: Session | None, org_id: int) -> str:
    """The workspace's default e-mail signature ("" when none is set)."""
    org = session.get(Organization, org_id) if session is not None else None
    return (org.email_signature or "") if org is not None else ""


def merge_fields_in(text: str) -> list[str]:
    """The merge-field names written in `text`, in order, repeats included."""
    return _FIELD.findall(text)


def without_merge_fields(text: str) -> str:
    """The text with every merge field taken out: what is left is prose."""
    return _FIELD.sub(" ", text)


def merge_values(invoice: Invoice, today: dt.date, sender_name: str, links: LinkMaker | None = None,
                 promises: Iterable[Promise] | None = None) -> dict[str, str]:
    """Merge-field values for this invoice; the links need the workspace's LinkMaker (else they stay empty).

    `promises` are the invoice's promises when the caller has them already; otherwise they are read.
    """
    if promises is None:
        promises = _promises_of(invoice)
    session = object_session(invoice)
    part = disputed_parts(session, invoice.org_id, [invoice.id]).get(invoice.id) if session and invoice.id else None
    values = invoice_merge_values(invoice.customer.name, invoice.number, invoice.balance_minor, invoice.currency,
                                  invoice.due_date, today, sender_name, latest_promise_date(promises),
                                  signature_of(session, invoice.org_id), disputed_minor=part)
    if links is not None:
        values |= links.values(invoice.customer_id, invoice.customer.portal_version, [invoice.id])
    return values


def _promises_of(invoice: Invoice) -> list[Promise]:
    session = object_session(invoice)
    if session is None or invoice.id is None:
        return []
    return list(session.scalars(select(Promise).where(Promise.org_id == invoice.org_id,
                                                      Promise.invoice_id == invoice.id)))


def latest_promise(promises: Iterable[Promise]) -> Promise | None:
    """The promise with the latest date, cancelled ones aside: the one {promise_date} and the drafter speak of."""
    standing = [p for p in promises if p.status != "cancelled"]
    return max(standing, key=lambda p: (p.promised_date, p.id or 0)) if standing else None


def latest_promise_date(promises: Iterable[Promise]) -> dt.date | None:
    promise = latest_promise(promises)
    return promise.promised_date if promise else None


def invoice_merge_values(customer_name: str, number: str, balance_minor: int, currency: str, due_date: dt.date,
                         today: dt.date, sender_name: str, promise_date: dt.date | None = None,
                         signature: str = "", disputed_minor: int | None = None) -> dict[str, str]:
    """Merge-field values from an invoice's columns (the engine reads columns, not whole rows); no links. With part of
    the balance in dispute, the amounts are the undisputed rest."""
    balance_minor = undisputed(balance_minor, disputed_minor)
    return {
        "customer_name": customer_name,
        "invoice_number": number,
        "amount_due": format_money(balance_minor, currency),
        "disputed_amount": format_money(disputed_minor, currency) if disputed_minor else "",
        "due_date": due_date.strftime(DATE_FORMAT),
        "days_past_due": str(max(days_past_due(due_date, today), 0)),
        "promise_date": promise_date.strftime(DATE_FORMAT) if promise_date else "",
        **list_values([_Listed(number, balance_minor, currency, due_date)]),
        "pay_link": "",
        "portal_link": "",
        "sender_name": sender_name,
        "signature": signature,
    }


@dataclass(frozen=True)
class _Listed:
    number: str
    balance_minor: int
    currency: str
    due_date: dt.date


def available_links(values: dict[str, str]) -> frozenset[str]:
    """The link fields that have a value: the drafter leaves the others out."""
    return frozenset(name for name in LINK_FIELDS if values.get(name))


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str
    problems: list[str]


def preview(subject: str, body: str, values: dict[str, str]) -> Preview:
    """The e-mail as the payer will read it, and what still blocks sending."""
    filled_subject, filled_body = fill(subject, values), fill(body, values)
    problems = list(dict.fromkeys(filled_subject.problems + filled_body.problems))
    text = signed(filled_body.text, values.get("signature", "")) if body.strip() else filled_body.text
    if not subject.strip():
        problems.insert(0, "Write a subject.")
    if not body.strip():
        problems.insert(0, "Write the e-mail.")
    return Preview(filled_subject.text, text, problems)
