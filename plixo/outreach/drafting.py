"""Drafting reminder e-mails: the rule-based drafter.

The drafter writes an e-mail for a purpose (reminder, promise follow-up, escalation) and a tone, adapted to
the invoice's age, its promise history, the payer's latest reply and who signs it. Every paragraph has several
phrasings; which one is used follows from a seed (the customer and how many e-mails they were already sent),
so a draft re-renders identically while consecutive e-mails to one customer read differently.

It never writes a figure: amounts, dates, day counts, invoice numbers and links are merge fields, written
`{name}` (plixo.outreach.merge_fields fills them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from plixo.outreach.merge_fields import LINK_FIELDS, available_links
from plixo.outreach.models import TONES
from plixo.promises.models import Promise

TEMPLATE_LABELS = {"courtesy": "Courtesy reminder", "reminder": "Reminder", "promise_follow_up": "Promise follow-up",
                   "broken_promise": "Broken promise", "dispute_acknowledgement": "Neutral (dispute open)",
                   "payment_plan": "Payment plan offer", "escalation": "Firm escalation"}
# The titles a collector signs with; roles that do not chase payers sign with their name alone.
ROLE_TITLES = {"controller": "Financial Controller", "ar_manager": "Accounts Receivable Manager",
               "operator": "Accounts Receivable", "billing_admin": "Billing"}


@dataclass(frozen=True)
class Moment:
    """What the next e-mail about an invoice has to fit."""

    days_past_due: int
    promise: str = ""  # the latest promise, as `promise_state` reads it: pending, missed, broken, kept
    disputed: bool = False  # a dispute is open on the customer (on any of its invoices)


def choose_template(moment: Moment) -> str:
    """The template for the moment: the inspector's recommended next step and the cadence engine both follow it.

    A dispute comes first: while the customer waits for an answer, pressing on any invoice reads as ignoring
    them. A promise comes next, so nobody is escalated while a promise stands. Only then does age decide.
    """
    if moment.disputed:
        return "dispute_acknowledgement"
    if moment.promise in ("missed", "broken"):
        return "broken_promise"
    if moment.promise == "pending":
        return "promise_follow_up"
    if moment.days_past_due > 90:
        return "payment_plan"
    if moment.days_past_due > 60:
        return "escalation"
    return "reminder" if moment.days_past_due > 0 else "courtesy"


def choose_tone(policy_tone: str, days_past_due: int, risk_tier: str) -> str:
    """The policy's tone, firmer for long-overdue or high-risk accounts, never softer than the policy."""
    tone = TONES.index(policy_tone) if policy_tone in TONES else 1
    if days_past_due > 60 or risk_tier == "high":
        tone = max(tone, 2 if days_past_due > 90 else 1)
    return TONES[tone]


def drafted_email(template: str, tone: str, values: dict[str, str],
                  recipient_name: str | None = None, turn: int = 0) -> tuple[str, str]:
    """Subject and body for any invoice of its kind (a cadence step's default), signed by the team, merge fields
    kept, without the links that have no value yet. When the recipient's name is known the greeting uses it;
    `turn` (a cadence step's position) moves the wording on, so consecutive steps do not read alike."""
    return draft_email(DraftContext(purpose=template, tone=tone, reminded=template == "escalation",
                                    first_name=first_name(recipient_name), persona=Persona(),
                                    links=available_links(values), seed=Seed(turn=turn)))


# Mailbox names rather than people's: "Hi Accounts," reads worse than the company's name.
_ROLE_WORDS = {"accounts", "ap", "ar", "billing", "finance", "payables", "receivables", "team", "invoices", "the"}


_NAME = re.compile(r"[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*")


def first_name(name: str | None) -> str:
    """The first name to greet a contact by, or "" when their name does not look like a person's."""
    words = (name or "").split()
    if not words or words[0].lower() in _ROLE_WORDS or not _NAME.fullmatch(words[0]):
        return ""
    return words[0]


# --- The drafter ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seed:
    """What picks the phrasings: `key` fixes a base per paragraph, `turn` moves every paragraph on by one."""

    key: str = ""
    turn: int = 0


@dataclass(frozen=True)
class Persona:
    """Who signs: a named collector (with their role's title) or the accounts team."""

    person: bool = False
    title: str = ""


def persona_of(role: str | None) -> Persona:
    """A person signing with the title of their role in the workspace."""
    return Persona(person=True, title=ROLE_TITLES.get(role or "", ""))


@dataclass(frozen=True)
class DraftContext:
    """Everything the drafter adapts to. Unknown facts keep their defaults and the wording stays general."""

    purpose: str = "reminder"
    tone: str = "professional"
    bucket: str = ""  # aging bucket; empty when writing for many invoices at once (a cadence step)
    promise: str = ""  # the latest promise: pending, missed (date passed, not yet marked), broken, kept
    kept_promises: bool = False  # the customer kept earlier promises and broke none
    reply: str = ""  # label of the payer's latest reply we have not written after
    reminded: bool = False  # this invoice was e-mailed before
    first_name: str = ""
    persona: Persona = field(default_factory=Persona)
    links: frozenset[str] = frozenset(LINK_FIELDS)  # the links this invoice has a value for
    partly_disputed: bool = False  # part of this invoice is in dispute: the e-mail asks for the rest only
    seed: Seed = field(default_factory=Seed)


def promise_state(promise: Promise | None, today: dt.date) -> str:
    """How the drafter speaks of the latest promise: a pending one whose date passed is missed."""
    if promise is None:
        return ""
    if promise.status == "pending" and promise.promised_date < today:
        return "missed"
    return promise.status if promise.status in ("pending", "broken", "kept") else ""


def draft_email(context: DraftContext) -> tuple[str, str]:
    """Subject and body of the e-mail `context` calls for, every figure and link a merge field."""
    if context.purpose == "dispute_acknowledgement" and context.tone == "firm":  # neutral while a dispute is open
        context = replace(context, tone="professional")
    paragraphs = [_greeting(context), _reply_note(context), _situation(context), _ask(context),
                  _links(context), _help_line(context), _sign_off(context)]
    return _subject(context), "\n\n".join(p for p in paragraphs if p)


def _pick(options: Sequence[str], context: DraftContext, slot: str) -> str:
    # sha256, not hash(): the choice must be the same in every process, or a draft would change on reload.
    base = int.from_bytes(hashlib.sha256(f"{context.seed.key}|{slot}".encode()).digest()[:4], "big")
    return options[(base + context.seed.turn) % len(options)]


def _has(context: DraftContext, link: str) -> bool:
    return link in context.links


# Subjects: by purpose and tone, unless the situation calls for a more specific one.
SUBJECTS = {
    "reminder": {
        "friendly": ("Invoice {invoice_number}: a quick reminder", "A friendly reminder about invoice {invoice_number}",
                     "Quick note on invoice {invoice_number}"),
        "professional": ("Invoice {invoice_number} is {days_past_due} days past due",
                         "Payment reminder: invoice {invoice_number}", "Invoice {invoice_number}: payment outstanding"),
        "firm": ("Overdue: invoice {invoice_number} ({amount_due})", "Payment required: invoice {invoice_number}",
                 "Invoice {invoice_number} is overdue: {amount_due}"),
    },
    "promise_follow_up": {
        "friendly": ("Following up on your payment for {invoice_number}",
                     "Your planned payment for invoice {invoice_number}"),
        "professional": ("Your payment for invoice {invoice_number}", "Payment commitment: invoice {invoice_number}"),
        "firm": ("Payment promised for invoice {invoice_number}", "Your payment commitment: invoice {invoice_number}"),
    },
    "escalation": {
        "friendly": ("Can we help with invoice {invoice_number}?", "Let's sort out invoice {invoice_number}"),
        "professional": ("Escalation: invoice {invoice_number} is {days_past_due} days overdue",
                         "Invoice {invoice_number} needs your attention"),
        "firm": ("Final notice: invoice {invoice_number}", "Urgent: invoice {invoice_number} is {days_past_due} days "
                                                           "overdue"),
    },
}
NOT_DUE_SUBJECTS = ("Invoice {invoice_number} is due on {due_date}", "Coming up: invoice {invoice_number} due "
                                                                     "{due_date}")
BROKEN_PROMISE_SUBJECTS = ("Payment promised for {promise_date}: invoice {invoice_number}",
                           "Missed payment date: invoice {invoice_number}")
# The templates whose subject does not change with the tone.
SUBJECTS |= {
    "courtesy": dict.fromkeys(TONES, NOT_DUE_SUBJECTS),
    "broken_promise": dict.fromkeys(TONES, BROKEN_PROMISE_SUBJECTS),
    "dispute_acknowledgement": dict.fromkeys(TONES, ("About invoice {invoice_number}",
                                                     "Invoice {invoice_number} on your account")),
    "payment_plan": dict.fromkeys(TONES, ("Invoice {invoice_number}: can a payment plan help?",
                                          "A payment plan for invoice {invoice_number}")),
}
REPLY_SUBJECTS = {
    "invoice_copy": ("Copy of invoice {invoice_number}", "Invoice {invoice_number}, as requested"),
    "already_paid": ("Invoice {invoice_number}: remittance details", "Matching your payment for invoice "
                                                                     "{invoice_number}"),
}


def _subject(context: DraftContext) -> str:
    if context.reply in REPLY_SUBJECTS:
        return _pick(REPLY_SUBJECTS[context.reply], context, "subject")
    if context.purpose in ("dispute_acknowledgement", "payment_plan"):  # the subject says what the e-mail is for
        return _pick(SUBJECTS[context.purpose][context.tone], context, "subject")
    if context.bucket == "current":  # nothing is overdue yet, whatever the purpose picked
        return _pick(NOT_DUE_SUBJECTS, context, "subject")
    if context.promise in ("missed", "broken") and context.purpose != "escalation":
        return _pick(BROKEN_PROMISE_SUBJECTS, context, "subject")
    return _pick(SUBJECTS[context.purpose][context.tone], context, "subject")


# Friendly e-mails sometimes open with a pleasantry (the empty option leaves it out); the others get to the point.
PLEASANTRIES = ("Hope all is well on your side.", "Hope you are having a good week.", "")


def _greeting(context: DraftContext) -> str:
    if context.tone == "friendly":
        name = context.first_name or "{customer_name} team"
        greeting = _pick((f"Hi {name},", f"Hello {name},"), context, "greeting")
        pleasantry = "" if context.reply else _pick(PLEASANTRIES, context, "pleasantry")
        return f"{greeting}\n\n{pleasantry}".strip()
    name = context.first_name or "{customer_name}"
    options = (f"Hello {name},", f"Dear {name},") if context.tone == "professional" else (f"Dear {name},",
                                                                                          f"Hello {name},")
    return _pick(options, context, "greeting")


# What the payer last told us, acknowledged first. Disputes and unsubscribe requests stop outreach instead.
REPLY_NOTES = {
    "out_of_office": ("Welcome back; we hope the time away went well.",
                      "We hope you had a good break. Now that you are back, here is where things stand.",
                      "Welcome back to the office. We wanted to pick this up with you now that you have returned."),
    "already_paid": ("Thank you for letting us know that invoice {invoice_number} has been paid. We have not been "
                     "able to match the payment on our side yet.",
                     "Thanks for telling us you have paid invoice {invoice_number}. The payment has not reached our "
                     "records yet, so we would like to track it down.",
                     "Thank you for your note saying invoice {invoice_number} is paid. We cannot see the payment "
                     "against it yet."),
    "promise": ("Thank you for your reply and for letting us know when to expect payment.",
                "Thanks for getting back to us about the timing of the payment; that is very helpful."),
    "other": ("Thank you for your reply.", "Thanks for getting back to us.", "Thank you for your message."),
}
# The portal lists each open invoice with its dates and balance: that is the copy we can link to.
COPY_NOTES = ("Here is invoice {invoice_number}, as you asked. You can see it, with its dates and balance and "
              "everything else open on your account, here:",
              "As requested, invoice {invoice_number} and its details are on your account page:")
COPY_NOTES_WITHOUT_PORTAL = ("You asked for a copy of invoice {invoice_number}: it is for {amount_due}, due on "
                             "{due_date}. If you need it in another format to process it, just reply.",)


def _reply_note(context: DraftContext) -> str:
    if context.reply == "invoice_copy":
        if _has(context, "portal_link"):  # the copy is what they asked for: the link goes first, on its own line
            return _pick(COPY_NOTES, context, "reply") + "\n{portal_link}"
        return _pick(COPY_NOTES_WITHOUT_PORTAL, context, "reply")
    if context.reply in REPLY_NOTES:
        return _pick(REPLY_NOTES[context.reply], context, "reply")
    return ""


FOLLOW_UPS = ("We are following up on our earlier e-mail.", "This follows our previous reminder.",
              "We wrote about this recently and wanted to follow up.")
PROMISE_NOTES = {
    "pending": {
        "friendly": ("Thanks again for letting us know payment is planned for {promise_date}.",
                     "We have a note that payment is planned for {promise_date}, which is great to hear."),
        "professional": ("This is a reminder of your commitment to pay by {promise_date}.",
                         "As agreed, we are expecting payment by {promise_date}."),
        "firm": ("We are expecting payment by {promise_date}, as you committed.",
                 "Payment was promised for {promise_date}, and we are counting on that date."),
    },
    "broken": {
        "friendly": ("We were expecting payment by {promise_date}, but it does not seem to have arrived yet.",
                     "The payment planned for {promise_date} has not reached us yet; perhaps it got held up."),
        "professional": ("Payment was promised for {promise_date}, and we have not received it.",
                         "We had agreed on payment by {promise_date}, but it has not arrived."),
        "firm": ("The payment promised for {promise_date} has not been received.",
                 "You committed to paying by {promise_date}, and that payment has not arrived."),
    },
}
KEPT_NOTES = ("Thank you for keeping to the payment you promised for {promise_date}.",
              "Thanks for making the payment you promised for {promise_date}; we appreciate it.")
KEPT_HISTORY_NOTES = ("Thank you for always keeping to your payment commitments with us; it makes a real difference.",
                      "We appreciate how reliably you have kept to your payment promises.")
SITUATIONS = {
    "current": ("Invoice {invoice_number} for {amount_due} falls due on {due_date}, and we wanted to make sure it "
                "is on your radar.",
                "This is a courtesy note ahead of the due date: invoice {invoice_number} for {amount_due} is due on "
                "{due_date}.",
                "Just a heads-up that invoice {invoice_number} for {amount_due} is due on {due_date}."),
    "1-30": ("Invoice {invoice_number} for {amount_due} was due on {due_date} and is still open on our side.",
             "Our records show invoice {invoice_number} for {amount_due}, due on {due_date}, as still unpaid.",
             "Invoice {invoice_number} for {amount_due} passed its due date of {due_date}, and we have not seen "
             "payment yet."),
    "31-60": ("Invoice {invoice_number} for {amount_due} is now {days_past_due} days past its due date of "
              "{due_date}.",
              "Invoice {invoice_number} for {amount_due}, due on {due_date}, is now {days_past_due} days beyond its "
              "terms.",
              "It has been {days_past_due} days since invoice {invoice_number} for {amount_due} fell due on "
              "{due_date}."),
    "61-90": ("Invoice {invoice_number} for {amount_due} has been outstanding since {due_date}, {days_past_due} "
              "days now.",
              "Invoice {invoice_number} for {amount_due} (due {due_date}) is still unpaid after {days_past_due} "
              "days.",
              "Invoice {invoice_number} for {amount_due} is {days_past_due} days overdue; it was due on {due_date}."),
    "90+": ("Invoice {invoice_number} for {amount_due} is now {days_past_due} days overdue (it was due on "
            "{due_date}) and is one of the oldest open items on your account.",
            "Invoice {invoice_number} for {amount_due} has been unpaid since {due_date}: {days_past_due} days, well "
            "past its terms.",
            "We are still waiting for payment of invoice {invoice_number} for {amount_due}, which fell due on "
            "{due_date}, {days_past_due} days ago."),
}
# A cadence step is written once for invoices of every age: its wording follows the step's purpose.
GENERAL_BUCKETS = {"courtesy": "current", "reminder": "1-30", "promise_follow_up": "1-30", "broken_promise": "1-30",
                   "dispute_acknowledgement": "1-30", "payment_plan": "90+", "escalation": "61-90"}
# A dispute is open on another invoice: said first, so the payer knows this e-mail is not ignoring it.
PART_DISPUTED_NOTES = ("We have noted your query about {disputed_amount} of this invoice and are looking into it; "
                       "the undisputed {amount_due} remains due.",
                       "Your query about {disputed_amount} of it is with our team; the undisputed {amount_due} is "
                       "still due meanwhile.")
DISPUTE_NOTES = ("We know you have raised a question about another invoice on your account, and we are looking "
                 "into it separately.",
                 "We are aware of the open query on your account and are working on it separately.")


def _situation(context: DraftContext) -> str:
    sentences = []
    if context.purpose == "dispute_acknowledgement":
        sentences.append(_pick(DISPUTE_NOTES, context, "dispute"))
    elif context.reminded and context.bucket != "current":
        sentences.append(_pick(FOLLOW_UPS, context, "follow-up"))
    if context.partly_disputed:
        sentences.append(_pick(PART_DISPUTED_NOTES, context, "part-disputed"))
    sentences.append(_promise_note(context))
    if context.reply != "invoice_copy" or _has(context, "portal_link"):  # without a portal the note has the facts
        sentences.append(_pick(SITUATIONS[_situation_bucket(context)], context, "situation"))
    return " ".join(s for s in sentences if s)


def _situation_bucket(context: DraftContext) -> str:
    if context.purpose == "dispute_acknowledgement" and context.bucket not in ("", "current"):
        return "1-30"  # the plain facts: while the payer waits on a dispute, the invoice's age is not pressed
    return context.bucket or GENERAL_BUCKETS[context.purpose]


def _promise_note(context: DraftContext) -> str:
    if context.promise == "kept":
        return _pick(KEPT_NOTES, context, "promise")
    if context.promise in ("pending", "missed", "broken"):
        state = "pending" if context.promise == "pending" else "broken"
        return _pick(PROMISE_NOTES[state][context.tone], context, "promise")
    if context.purpose == "broken_promise":  # written for any invoice (a cadence step): the promise is the point
        return _pick(PROMISE_NOTES["broken"][context.tone], context, "promise")
    if context.kept_promises:
        return _pick(KEPT_HISTORY_NOTES, context, "promise")
    return ""


ASKS = {
    "reminder": {
        "friendly": ("If it has already been paid, thank you, and please ignore this message.",
                     "If payment is already on its way, thank you! If not, we would be grateful if you could arrange "
                     "it when you have a moment.",
                     "If it has slipped through the cracks, no worries; it only takes a moment to settle."),
        "professional": ("Please arrange payment at your earliest convenience, or let us know if anything is holding "
                         "it up.",
                         "We would appreciate payment at your earliest convenience. If it has already been sent, "
                         "please disregard this note.",
                         "Please let us know when we can expect payment, or arrange it at your earliest convenience."),
        "firm": ("Please pay it this week or tell us when payment will be made.",
                 "Please arrange payment this week. If there is a reason it cannot be paid, reply and tell us now.",
                 "We need payment this week, or a firm date from you for when it will be made."),
    },
    "promise_follow_up": {
        "friendly": ("Thanks again for letting us know when to expect it; if anything changes, just tell us.",
                     "If it is all in hand, thank you, and there is nothing more to do."),
        "professional": ("Please let us know if anything has changed with the timing.",
                         "If the payment has already been made, thank you; otherwise we look forward to receiving it."),
        "firm": ("Please make sure the payment is made as committed.",
                 "Please keep to the payment you committed to, and tell us straight away if anything changes."),
    },
    "escalation": {
        "friendly": ("If something is holding it up, reply and we will sort it out together.",
                     "If there is a problem with the invoice or the timing, tell us and we will work it out together."),
        "professional": ("Please settle it or contact us this week so we can agree a way forward.",
                         "Please arrange payment now, or contact us this week to agree a plan."),
        "firm": ("Unless payment is received or we hear from you this week, we will have to escalate this account.",
                 "Please pay now. Without payment or a reply from you this week, we will need to escalate this "
                 "account."),
    },
}
PENDING_PROMISE_ASKS = {
    "friendly": ("If anything has changed with the timing, just let us know.",
                 "If it is all in hand, thank you, and there is nothing more to do."),
    "professional": ("Please let us know if anything changes before then.",
                     "If the payment has already been made, thank you; otherwise we look forward to receiving it on "
                     "that date."),
    "firm": ("Please make sure the payment is made by that date.",
             "Please keep to that date, and tell us straight away if anything changes."),
}
BROKEN_PROMISE_ASKS = {
    "friendly": ("Could you let us know the new date, or settle it when you get a chance?",
                 "Could you check on it and let us know when it will be paid?"),
    "professional": ("Please arrange payment now, or reply with a new date we can rely on.",
                     "Please let us know what happened and when payment will be made."),
    "firm": ("Please pay today, or reply today with the date payment will be made.",
             "Please make the payment now, or tell us today when it will be made."),
}
REMITTANCE_ASKS = {
    "friendly": ("Could you send us the remittance advice, with the payment date and reference, so we can find it "
                 "and apply it?",
                 "Would you reply with the remittance advice or the bank reference? That lets us match the payment "
                 "and close the invoice.",
                 "If you can forward the remittance advice or the payment confirmation, we will apply it straight "
                 "away."),
    "firm": ("Please send the remittance advice, with the payment date and reference, so we can match it.",
             "Please reply with the remittance advice or bank reference so we can apply the payment."),
}
NOT_DUE_ASKS = {
    "friendly": ("No action is needed if it is already scheduled; we just wanted to help it go smoothly.",
                 "If it is already lined up for payment, thank you, and there is nothing more to do."),
    "professional": ("If it is already scheduled for payment, thank you; no further action is needed.",
                     "Please make sure it is scheduled for payment by that date."),
    "firm": ("Please make sure it is scheduled to be paid on time.",
             "Please confirm that it will be paid by the due date."),
}
DISPUTE_ASKS = ("If this invoice is affected by the same question, reply and tell us and we will hold it while we "
                "look into it; otherwise, we would be grateful if you could arrange payment.",
                "If the query touches this invoice too, just reply and we will pause it; if not, please arrange "
                "payment when you can.")
PLAN_ASKS = ("We would rather agree a plan you can keep than keep sending reminders: reply with what you can pay "
             "and when, and we will set it up.",
             "If paying it all at once is difficult, we can spread it over several instalments. Reply with what "
             "would work for you and we will propose a plan.")
ASKS |= {"courtesy": NOT_DUE_ASKS, "broken_promise": BROKEN_PROMISE_ASKS,
         "dispute_acknowledgement": dict.fromkeys(TONES, DISPUTE_ASKS), "payment_plan": dict.fromkeys(TONES, PLAN_ASKS)}
PLAN_OFFERS = ("If paying it all at once is difficult, we are open to discussing a payment plan.",
               "If a single payment is difficult right now, reply and we can look at a payment plan.")


def _ask(context: DraftContext) -> str:
    tone = context.tone
    if context.reply == "already_paid":
        return _pick(REMITTANCE_ASKS["firm" if tone == "firm" else "friendly"], context, "ask")
    if context.purpose in ("dispute_acknowledgement", "payment_plan"):  # what the template is for, whatever else
        return _pick(ASKS[context.purpose][tone], context, "ask")
    if context.promise in ("missed", "broken") and context.purpose != "escalation":
        return _pick(BROKEN_PROMISE_ASKS[tone], context, "ask")
    if context.promise == "pending" and context.purpose != "escalation":
        return _pick(PENDING_PROMISE_ASKS[tone], context, "ask")
    if context.bucket == "current":
        return _pick(NOT_DUE_ASKS[tone], context, "ask")
    ask = _pick(ASKS[context.purpose][tone], context, "ask")
    if context.bucket == "90+" and context.purpose != "payment_plan":  # a plan may recover more than a reminder
        ask += " " + _pick(PLAN_OFFERS, context, "plan")
    return ask


PAY_LINES = {
    "friendly": ("You can pay online here: {pay_link}", "Paying online only takes a minute: {pay_link}"),
    "professional": ("Pay online: {pay_link}", "You can pay securely online here: {pay_link}"),
    "firm": ("Pay now: {pay_link}", "Pay online today: {pay_link}"),
}
PAID_PAY_LINES = ("If it turns out the payment did not go through, you can pay here: {pay_link}",
                  "Should the payment not have gone through after all, this link settles it: {pay_link}")
PORTAL_LINES = ("See all your open invoices: {portal_link}", "Your account, with every open invoice: {portal_link}",
                "View your invoices and account online: {portal_link}")


def _links(context: DraftContext) -> str:
    lines = []
    if _has(context, "pay_link"):
        options = PAID_PAY_LINES if context.reply == "already_paid" else PAY_LINES[context.tone]
        lines.append(_pick(options, context, "pay-link"))
    if _has(context, "portal_link") and context.reply != "invoice_copy":  # already up front in that case
        lines.append(_pick(PORTAL_LINES, context, "portal-link"))
    return "\n".join(lines)


HELP_LINES = {
    "person": ("If you have any questions, just reply to this e-mail and I will help.",
               "Any questions? Reply here and I will get back to you.",
               "If it would help to talk it through, reply and I will pick it up."),
    "team": ("If you have any questions, just reply to this e-mail and our team will help.",
             "Any questions? Reply here and we will get back to you.",
             "Reply to this e-mail if anything is unclear; we are happy to help."),
    "firm": ("If there is a problem we should know about, reply to this e-mail.",
             "If you believe this is in error, reply to this e-mail."),
}
SIGN_OFFS = {
    "friendly": ("Thanks,", "Many thanks,", "Thanks so much,", "Best,"),
    "professional": ("Kind regards,", "Best regards,", "With thanks,"),
    "firm": ("Regards,", "Sincerely,"),
}


def _help_line(context: DraftContext) -> str:
    if context.tone == "firm":
        return _pick(HELP_LINES["firm"], context, "help")
    return _pick(HELP_LINES["person" if context.persona.person else "team"], context, "help")


def _sign_off(context: DraftContext) -> str:
    persona = context.persona
    signature = "{sender_name}"
    if persona.person and persona.title:
        signature += "\n" + persona.title
    elif not persona.person:  # the workspace's name signs for its team
        signature += "\nAccounts receivable"
    return _pick(SIGN_OFFS[context.tone], context, "sign-off") + "\n" + signature
