"""The rule-based drafter: varied by seed, identical for the same seed, every figure a merge field, and adapted
to tone, persona, aging, promise history and the payer's replies."""

import itertools
import re

import pytest

from plixo.outreach.drafting import TEMPLATE_LABELS, TONES, DraftContext, Persona, Seed, draft_email, persona_of
from plixo.outreach.merge_fields import MERGE_FIELDS, fill, merge_fields_in, without_merge_fields

BUCKETS = ("", "current", "1-30", "31-60", "61-90", "90+")
PROMISES = ("", "pending", "missed", "broken", "kept")
REPLIES = ("", "out_of_office", "already_paid", "invoice_copy", "promise", "other")
LINKS = (frozenset({"pay_link", "portal_link"}), frozenset({"portal_link"}), frozenset())
FULL_VALUES = {name: f"<{name}>" for name in MERGE_FIELDS}


def email(**context) -> str:
    """Subject and body as one text."""
    subject, body = draft_email(DraftContext(**context))
    return subject + "\n" + body


def every_context():
    for purpose, tone, bucket, promise, reply, links in itertools.product(
            TEMPLATE_LABELS, TONES, BUCKETS, PROMISES, REPLIES, LINKS):
        persona = persona_of("operator") if promise else Persona()
        yield DraftContext(purpose=purpose, tone=tone, bucket=bucket, promise=promise, reply=reply, links=links,
                           reminded=bucket in ("61-90", "90+"), persona=persona,
                           seed=Seed(f"customer:{len(reply)}", len(bucket)))


def test_the_same_seed_drafts_the_same_email():
    context = DraftContext(purpose="reminder", tone="friendly", bucket="1-30", seed=Seed("customer:7", 2))
    assert draft_email(context) == draft_email(DraftContext(purpose="reminder", tone="friendly", bucket="1-30",
                                                            seed=Seed("customer:7", 2)))


def test_consecutive_emails_to_a_customer_change_every_paragraph():
    drafts = [draft_email(DraftContext(bucket="31-60", seed=Seed("customer:7", turn)))[1] for turn in range(6)]
    for before, after in itertools.pairwise(drafts):
        shared = set(before.split("\n\n")) & set(after.split("\n\n"))
        assert shared <= {"{sender_name}"}, shared


def test_customers_get_different_wording():
    bodies = {draft_email(DraftContext(bucket="1-30", seed=Seed(f"customer:{n}")))[1] for n in range(20)}
    assert len(bodies) >= 10


def test_no_draft_writes_a_figure_of_its_own():
    for context in every_context():
        subject, body = draft_email(context)
        prose = without_merge_fields(subject + "\n" + body)
        assert not re.search(r"[\d$€£¥%]", prose), (context, prose)


def test_every_draft_uses_known_merge_fields_only():
    for context in every_context():
        subject, body = draft_email(context)
        assert not fill(subject, FULL_VALUES).problems and not fill(body, FULL_VALUES).problems, context


def test_amounts_dates_and_numbers_are_merge_fields():
    text = email(purpose="reminder", tone="professional", bucket="31-60")
    assert {"{invoice_number}", "{amount_due}", "{due_date}", "{days_past_due}", "{pay_link}"} <= set(
        "{" + name + "}" for name in merge_fields_in(text))


def test_links_without_a_value_are_left_out():
    text = email(links=frozenset({"portal_link"}))
    assert "{pay_link}" not in text and "{portal_link}" in text


# Aging

def test_an_invoice_not_yet_due_is_not_called_overdue():
    text = email(purpose="reminder", tone="firm", bucket="current").lower()
    assert "{due_date}" in text and "{days_past_due}" not in text and "overdue" not in text and "past due" not in text


@pytest.mark.parametrize("bucket", ["31-60", "61-90", "90+"])
def test_an_older_invoice_counts_its_days_past_due(bucket):
    assert "{days_past_due}" in draft_email(DraftContext(purpose="reminder", bucket=bucket))[1]


def test_a_very_old_invoice_is_offered_a_payment_plan():
    assert "payment plan" in email(purpose="reminder", bucket="90+")
    assert "payment plan" not in email(purpose="reminder", bucket="1-30")


def test_a_follow_up_mentions_the_earlier_email():
    words = ("earlier", "previous", "recently")
    first = draft_email(DraftContext(bucket="31-60", reminded=False))[1]
    again = draft_email(DraftContext(bucket="31-60", reminded=True))[1]
    assert not any(word in first for word in words) and any(word in again for word in words)


# Tone

def test_a_friendly_email_greets_the_team_and_thanks_them():
    _subject, body = draft_email(DraftContext(tone="friendly"))
    assert body.split("\n")[0] in ("Hi {customer_name} team,", "Hello {customer_name} team,")
    assert any(body.endswith(f"{close}\n{{sender_name}}\nAccounts receivable")
               for close in ("Thanks,", "Many thanks,", "Thanks so much,", "Best,"))


def test_a_firm_email_asks_for_payment_this_week():
    texts = [email(purpose="reminder", tone="firm", bucket="1-30", seed=Seed("c", n)) for n in range(3)]
    assert all("this week" in text for text in texts)


def test_only_a_firm_escalation_threatens_to_escalate():
    firm = [email(purpose="escalation", tone="firm", bucket="61-90", seed=Seed("c", n)) for n in range(2)]
    softer = [email(purpose="escalation", tone=tone, bucket="61-90", seed=Seed("c", n))
              for tone in ("friendly", "professional") for n in range(2)]
    assert all("escalate" in text for text in firm) and not any("escalate" in text for text in softer)


# Persona

def test_a_collector_signs_with_their_role_and_speaks_for_themselves():
    body = draft_email(DraftContext(tone="professional", persona=persona_of("ar_manager"), seed=Seed("c", 0)))[1]
    assert body.endswith("{sender_name}\nAccounts Receivable Manager") and " I " in body


def test_the_team_signs_as_accounts_receivable():
    body = draft_email(DraftContext(tone="professional", persona=Persona(), seed=Seed("c", 0)))[1]
    assert body.endswith("{sender_name}\nAccounts receivable") and " I " not in body


def test_the_contacts_first_name_is_greeted():
    assert draft_email(DraftContext(tone="firm", first_name="Maria"))[1].split("\n")[0] in ("Dear Maria,",
                                                                                             "Hello Maria,")


# Promise history

def test_a_kept_promise_is_thanked_for():
    assert "Thank" in draft_email(DraftContext(promise="kept"))[1].split("\n\n")[1]


def test_a_broken_promise_is_named_by_its_date():
    _subject, body = draft_email(DraftContext(purpose="reminder", bucket="1-30", promise="broken"))
    assert "{promise_date}" in body and "ignore this message" not in body


def test_a_missed_promise_reads_like_a_broken_one():
    assert draft_email(DraftContext(promise="missed", seed=Seed("c", 1))) == draft_email(
        DraftContext(promise="broken", seed=Seed("c", 1)))


def test_a_pending_promise_is_recalled():
    body = draft_email(DraftContext(purpose="promise_follow_up", promise="pending"))[1]
    assert "{promise_date}" in body


def test_a_customer_who_keeps_promises_is_thanked_without_a_date():
    body = draft_email(DraftContext(kept_promises=True))[1]
    assert any(word in body for word in ("Thank", "appreciate")) and "{promise_date}" not in body


# Replies

def test_after_an_out_of_office_the_email_welcomes_them_back():
    body = draft_email(DraftContext(reply="out_of_office"))[1]
    assert "back" in body.split("\n\n")[1]


def test_after_already_paid_the_email_asks_for_the_remittance():
    subject, body = draft_email(DraftContext(reply="already_paid", tone="friendly"))
    assert "remittance" in body and "ignore this message" not in body and "{invoice_number}" in subject


def test_after_asking_for_a_copy_the_invoice_link_comes_first():
    subject, body = draft_email(DraftContext(reply="invoice_copy"))
    paragraphs = body.split("\n\n")
    assert paragraphs[1].endswith("\n{portal_link}") and body.count("{portal_link}") == 1
    assert "{invoice_number}" in subject


def test_a_copy_without_a_portal_gives_the_invoice_details():
    body = draft_email(DraftContext(reply="invoice_copy", links=frozenset()))[1]
    assert all(field in body.split("\n\n")[1] for field in ("{invoice_number}", "{amount_due}", "{due_date}"))


def test_any_other_reply_is_thanked_for():
    assert "Thank" in draft_email(DraftContext(reply="other"))[1].split("\n\n")[1]
