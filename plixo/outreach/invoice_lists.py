"""E-mails about several invoices: the {invoice_list} and {total_due} merge blocks, and plural wording.

A cadence step is written once, for one invoice ("Invoice {invoice_number} for {amount_due} was due on
{due_date}"). When the engine consolidates a customer's invoices into one e-mail, every sentence that speaks of
one invoice is replaced by a block listing each invoice with its own number, amount (in its own currency) and
due date, and the total when they share a currency. Nothing is typed in by hand: the block is merge fields, filled
like any other, so a re-render after a payment lists what is still open, and one invoice left reads as written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from plixo.money import format_money

DATE_FORMAT = "%-d %b %Y"
# The merge fields that speak of one invoice: meaningless, or wrong, for an e-mail about several. The balance has
# a plural of its own, the total; a sentence naming any of the others gives way to the list.
ONE_INVOICE_FIELDS = ("invoice_number", "amount_due", "due_date", "days_past_due")
PLURAL_OF = {"{amount_due}": "{total_due}"}
PLURAL_SUBJECT = "Your open invoices: {total_due}"
LIST_INTRO = "These invoices are open on your account:"
# A link in a sentence that gives way to the list is kept, on a line of its own below it.
LINK_LINES = {"{pay_link}": "Pay online: {pay_link}", "{portal_link}": "Your account: {portal_link}"}
_ONE_INVOICE = re.compile(r"\{(?:" + "|".join(ONE_INVOICE_FIELDS) + r")\}")
_NAMES_ONE_INVOICE = re.compile(r"\{(?:invoice_number|due_date|days_past_due)\}")
# A sentence: up to and including its closing punctuation (or the end of the line), with the spaces after it.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)[ \t]*")
_PLACE = "\0"


class ListedInvoice(Protocol):
    number: str
    balance_minor: int
    currency: str
    due_date: dt.date


def invoice_line(invoice: ListedInvoice) -> str:
    return (f"- {invoice.number}: {format_money(invoice.balance_minor, invoice.currency)}, "
            f"due {invoice.due_date.strftime(DATE_FORMAT)}")


def total_due(invoices: Sequence[ListedInvoice]) -> str:
    """The sum of the balances; one sum per currency (never added across currencies) when they differ."""
    totals: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        totals[invoice.currency] += invoice.balance_minor
    return " and ".join(format_money(total, currency) for currency, total in sorted(totals.items()))


def list_values(invoices: Sequence[ListedInvoice]) -> dict[str, str]:
    """Values of the blocks that list the invoices of an e-mail (one or several)."""
    return {"invoice_list": "\n".join(invoice_line(invoice) for invoice in invoices),
            "total_due": total_due(invoices)}


def list_block(invoices: Sequence[ListedInvoice]) -> str:
    """The paragraph that stands for the one-invoice sentences: each invoice, then the total if it is one sum."""
    block = LIST_INTRO + "\n{invoice_list}"
    if len({invoice.currency for invoice in invoices}) == 1:
        block += "\nTotal due: {total_due}"
    return block


def pluralised(subject: str, body: str, invoices: Sequence[ListedInvoice]) -> tuple[str, str]:
    """Subject and body, written for one invoice, made to speak of all of `invoices` (unchanged for one)."""
    if len(invoices) < 2:
        return subject, body
    if _ONE_INVOICE.search(subject):
        subject = PLURAL_SUBJECT
    return subject, _plural_body(body, list_block(invoices))


def _plural_body(body: str, block: str) -> str:
    # The list goes where the first one-invoice sentence was (unless the author placed {invoice_list} already).
    # A sentence naming one invoice's number or dates goes, since it would pass one invoice's figures off as
    # everyone's; one naming only the balance stays, speaking of the total ("Please pay {total_due}").
    author_placed = placed = "{invoice_list}" in body
    lines, links = [], []
    for line in body.split("\n"):
        kept = []
        for sentence in _SENTENCE.findall(line) or [line]:
            if _ONE_INVOICE.search(sentence) and not placed:
                kept.append(_PLACE)
                placed = True
            if not _NAMES_ONE_INVOICE.search(sentence):
                kept.append(_plural_of(sentence))
            else:
                links += [LINK_LINES[link] for link in LINK_LINES if link in sentence]
        text = "".join(kept).rstrip()
        if text or not line.strip():  # a line made only of one-invoice sentences goes altogether
            lines.append(text)
    block = "\n".join([block, *dict.fromkeys(links)])
    text = "\n".join(lines)
    if author_placed and links:  # the author's own list stays where it is; the links go right below it
        text = text.replace("{invoice_list}", "{invoice_list}\n" + "\n".join(dict.fromkeys(links)), 1)
    if not placed:  # no sentence named one invoice: the list still goes in, before the sign-off paragraph
        paragraphs = text.strip().split("\n\n")
        text = "\n\n".join([*paragraphs[:-1], _PLACE, paragraphs[-1]] if len(paragraphs) > 1 else [text, _PLACE])
    text = text.replace(_PLACE, "\n\n" + block + "\n\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _plural_of(sentence: str) -> str:
    for one, many in PLURAL_OF.items():
        sentence = sentence.replace(one, many)
    return sentence
