"""Drafting reminder e-mails: templates per purpose and tone, and strict merge-field filling.

Merge fields are written `{name}`. Filling never guesses: an unknown field, or one with no value for
this invoice (no portal link yet, say), is reported and blocks sending, so a payer never receives
"Dear {customer_name}" or an empty link.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plixo.ledger.aging import days_past_due
from plixo.money import format_money

if TYPE_CHECKING:
    from plixo.ledger.models import Invoice
    from plixo.portal.links import LinkMaker

MERGE_FIELDS = {
    "customer_name": "The customer's name",
    "invoice_number": "The invoice number",
    "amount_due": "The open balance, with currency",
    "due_date": "The due date",
    "days_past_due": "Days since the due date",
    "pay_link": "A link that opens payment for the current balance",
    "portal_link": "The customer's payment portal",
    "sender_name": "Your name",
}
_FIELD = re.compile(r"\{([^{}\s]*)\}")

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "reminder": {
        "friendly": ("Invoice {invoice_number}: a quick reminder",
                     "Hi {customer_name} team,\n\nJust a friendly note that invoice {invoice_number} for "
                     "{amount_due} was due on {due_date}. If it has already been paid, thank you, and please "
                     "ignore this message.\n\nYou can pay online here: {pay_link}\n\nThanks,\n{sender_name}"),
        "professional": ("Invoice {invoice_number} is {days_past_due} days past due",
                         "Hello {customer_name},\n\nOur records show invoice {invoice_number} for {amount_due}, "
                         "due on {due_date}, is still open. Please arrange payment at your earliest "
                         "convenience.\n\nPay online: {pay_link}\nSee all open invoices: {portal_link}\n\n"
                         "Kind regards,\n{sender_name}"),
        "firm": ("Overdue: invoice {invoice_number} ({amount_due})",
                 "Hello {customer_name},\n\nInvoice {invoice_number} for {amount_due} is now {days_past_due} "
                 "days past its due date of {due_date}. Please pay it this week or tell us when payment will "
                 "be made.\n\nPay now: {pay_link}\n\nRegards,\n{sender_name}"),
    },
    "promise_follow_up": {
        "friendly": ("Following up on your payment for {invoice_number}",
                     "Hi {customer_name} team,\n\nThanks again for letting us know when to expect payment of "
                     "{amount_due} for invoice {invoice_number}. Here is the link in case it helps: "
                     "{pay_link}\n\nThanks,\n{sender_name}"),
        "professional": ("Your payment for invoice {invoice_number}",
                         "Hello {customer_name},\n\nThis is a reminder of your commitment to pay {amount_due} for "
                         "invoice {invoice_number}. You can pay online here: {pay_link}\n\n"
                         "Kind regards,\n{sender_name}"),
        "firm": ("Payment promised for invoice {invoice_number}",
                 "Hello {customer_name},\n\nWe have not yet received the payment of {amount_due} you promised "
                 "for invoice {invoice_number}. Please pay today: {pay_link}\n\nRegards,\n{sender_name}"),
    },
    "escalation": {
        "friendly": ("Can we help with invoice {invoice_number}?",
                     "Hi {customer_name} team,\n\nInvoice {invoice_number} for {amount_due} is {days_past_due} "
                     "days overdue. If something is holding it up, reply and we will sort it out together. "
                     "Your invoices: {portal_link}\n\nThanks,\n{sender_name}"),
        "professional": ("Escalation: invoice {invoice_number} is {days_past_due} days overdue",
                         "Hello {customer_name},\n\nDespite earlier reminders, invoice {invoice_number} for "
                         "{amount_due} (due {due_date}) remains unpaid. Please settle it or contact us within "
                         "five business days.\n\nPay online: {pay_link}\n\nKind regards,\n{sender_name}"),
        "firm": ("Final notice: invoice {invoice_number}",
                 "Hello {customer_name},\n\nInvoice {invoice_number} for {amount_due} is {days_past_due} days "
                 "overdue. Unless payment is received within five business days we will have to escalate this "
                 "account.\n\nPay now: {pay_link}\n\nRegards,\n{sender_name}"),
    },
}
TEMPLATE_LABELS = {"reminder": "Reminder", "promise_follow_up": "Promise follow-up", "escalation": "Escalation"}


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
        if not value:
            empty.append(name)
            return match.group(0)
        return value

    text = _FIELD.sub(replace, template)
    return Filled(text, tuple(dict.fromkeys(unknown)), tuple(dict.fromkeys(empty)))


def choose_template(days_past_due: int, has_pending_promise: bool) -> str:
    """Which template suits the invoice's payment status."""
    if has_pending_promise:
        return "promise_follow_up"
    return "escalation" if days_past_due > 60 else "reminder"


def choose_tone(policy_tone: str, days_past_due: int, risk_tier: str) -> str:
    """The policy's tone, firmer for long-overdue or high-risk accounts, never softer than the policy."""
    order = ("friendly", "professional", "firm")
    tone = order.index(policy_tone) if policy_tone in order else 1
    if days_past_due > 60 or risk_tier == "high":
        tone = max(tone, 2 if days_past_due > 90 else 1)
    return order[tone]


def merge_values(invoice: Invoice, today: dt.date, sender_name: str,
                 links: LinkMaker | None = None) -> dict[str, str]:
    """Merge-field values for this invoice; the links need the workspace's LinkMaker (else they stay empty)."""
    values = invoice_merge_values(invoice.customer.name, invoice.number, invoice.balance_minor, invoice.currency,
                                  invoice.due_date, today, sender_name)
    if links is not None:
        values |= links.values(invoice.customer_id, invoice.customer.portal_version, [invoice.id])
    return values


def invoice_merge_values(customer_name: str, number: str, balance_minor: int, currency: str, due_date: dt.date,
                         today: dt.date, sender_name: str) -> dict[str, str]:
    """Merge-field values from an invoice's columns (the engine reads columns, not whole rows); no links."""
    return {
        "customer_name": customer_name,
        "invoice_number": number,
        "amount_due": format_money(balance_minor, currency),
        "due_date": due_date.strftime("%-d %b %Y"),
        "days_past_due": str(max(days_past_due(due_date, today), 0)),
        "pay_link": "",
        "portal_link": "",
        "sender_name": sender_name,
    }
