"""The writing assistant against a fake OpenAI-compatible server on loopback: a rewrite that passes every check is
used; anything else (a dropped or added merge field, a new number, link or banned phrase, a wrong length, an HTTP
error, a timeout, a malformed answer) leaves the rule-based draft. Without a provider nothing is asked."""

import datetime as dt
import json
import logging

import pytest

from plixo.extensions import db
from plixo.outreach import llm
from plixo.outreach.drafting import DraftContext, Seed, draft_email, persona_of
from plixo.outreach.merge_fields import merge_fields_in
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, workspace_today
from tests.fake_llm import Answer, serve, stop

HX = {"HX-Request": "true"}
_SUBJECT, DRAFT = draft_email(DraftContext(purpose="reminder", tone="professional", bucket="31-60",
                                           persona=persona_of("operator"), seed=Seed("customer:1")))


def reworded(draft: str) -> str:
    """A rewrite a careful editor might make: new words, the same merge fields, about the same length."""
    return draft.replace("Hello", "Good morning").replace("Dear", "Good morning").replace(
        "If you have any questions", "Should anything be unclear").replace("Any questions?", "Anything unclear?")


def added(draft: str, sentence: str) -> str:
    """The draft with a sentence of its own after the greeting."""
    return draft.replace("\n\n", f"\n\n{sentence}\n\n", 1)


@pytest.fixture
def fake_llm(app):
    fake, server = serve()
    settings = {"LLM_BASE_URL": fake.base, "LLM_MODEL": "fake-writer", "LLM_API_KEY": "sk-test-writer",
                "LLM_TIMEOUT_SECONDS": 2}
    saved = {name: app.config[name] for name in settings}
    app.config.update(settings)
    yield fake
    stop(fake, server)
    app.config.update(saved)


def test_a_good_rewrite_is_used(fake_llm):
    fake_llm.answer(Answer(reworded))
    result = llm.rewrite(DRAFT, "professional")
    assert result.used and result.body == reworded(DRAFT) and result.body != DRAFT


def test_the_provider_gets_the_draft_with_its_merge_fields_and_the_key(fake_llm):
    fake_llm.answer(Answer(reworded))
    llm.rewrite(DRAFT, "professional")
    [request] = fake_llm.requests
    assert request["path"] == "/v1/chat/completions" and request["json"]["model"] == "fake-writer"
    assert request["headers"]["Authorization"] == "Bearer sk-test-writer"
    assert fake_llm.draft_of(request) == DRAFT and "{amount_due}" in DRAFT


@pytest.mark.parametrize(("answer", "reason"), [
    (lambda draft: draft.replace("{pay_link}", "the payment page"), "it left out {pay_link}"),
    (lambda draft: draft + "\nReference: {invoice_reference}", "it added {invoice_reference}"),
    (lambda draft: draft.replace("{invoice_number}", "{ invoice_number }"), "it left out {invoice_number}"),
    (lambda draft: draft.replace("{amount_due}", "{amount_due"), "it left out {amount_due}"),
    (lambda draft: added(draft, "We have sent 3 reminders."), "it added the figure “3”"),
    (lambda draft: added(draft, "Please pay within five days."), "it added the figure “five”"),
    (lambda draft: added(draft, "The balance is in €."), "it added the figure “€”"),
    (lambda draft: draft + "\nSee https://pay.example.com/now", "it added a link or an e-mail address"),
    (lambda draft: draft + "\nWrite to billing@example.com", "it added a link or an e-mail address"),
    (lambda draft: draft + "\n" + draft, "it was too long"),
    (lambda draft: " ".join("{" + name + "}" for name in merge_fields_in(draft)), "it was too short"),
    (lambda draft: added(draft, "Otherwise we will take legal action."), "it said “legal action”"),
    (lambda draft: added(draft, "We guarantee a quick resolution."), "it said “guarantee”"),
    (lambda draft: added(draft, "This is a final notice."), "it said “final notice”"),
    (lambda draft: "Here is the rewritten e-mail:\n" + draft, "it said “rewritten”"),
    (lambda draft: "", "its answer was empty"),
])
def test_a_rewrite_that_fails_a_check_leaves_the_rule_based_draft(fake_llm, answer, reason):
    fake_llm.answer(Answer(answer))
    result = llm.rewrite(DRAFT, "professional")
    assert (result.used, result.body, result.reason) == (False, DRAFT, reason)


def test_a_firm_rewrite_may_call_itself_a_final_notice():
    firm = draft_email(DraftContext(purpose="escalation", tone="firm", bucket="61-90"))[1]
    rewritten = added(firm, "This is a final notice.")
    assert llm.check_rewrite(firm, rewritten, "firm") == "" and llm.check_rewrite(firm, rewritten, "professional")


def test_a_rewrite_may_keep_the_contacts_name():
    draft = draft_email(DraftContext(first_name="Sue"))[1]
    assert llm.check_rewrite(draft, added(draft, "Thank you, Sue, for your help so far."), "professional") == ""


@pytest.mark.parametrize(("answer", "reason"), [
    (Answer(status=500, raw=b'{"error": {"message": "overloaded"}}'), "it answered HTTP 500"),
    (Answer(status=401, raw=b'{"error": {"message": "bad key"}}'), "it answered HTTP 401"),
    (Answer(raw=b"<html>gateway</html>"), "its answer was not valid JSON"),
    (Answer(raw=b'{"choices": []}'), "its answer held no e-mail"),
    (Answer(raw=b'{"choices": [{"message": {"content": null}}]}'), "its answer held no e-mail"),
])
def test_a_failed_request_leaves_the_rule_based_draft(fake_llm, answer, reason):
    fake_llm.answer(answer)
    result = llm.rewrite(DRAFT, "professional")
    assert (result.used, result.body, result.reason) == (False, DRAFT, reason)


def test_why_the_draft_was_kept_is_logged(fake_llm, caplog, monkeypatch):
    # The suite's migrations run Alembic's fileConfig, which disables loggers that existed before it.
    monkeypatch.setattr(llm.log, "disabled", False)
    caplog.set_level(logging.INFO, logger="plixo.outreach.llm")
    fake_llm.answer(Answer(lambda draft: added(draft, "We have sent 3 reminders.")))
    llm.rewrite(DRAFT, "professional")
    assert "rule-based draft kept: it added the figure “3”" in caplog.text


def test_a_late_answer_leaves_the_rule_based_draft(app, fake_llm):
    app.config["LLM_TIMEOUT_SECONDS"] = 0.3
    fake_llm.answer(Answer(reworded, delay=3))
    result = llm.rewrite(DRAFT, "professional")
    assert (result.used, result.body, result.reason) == (False, DRAFT, "it did not answer in time")


def test_an_unreachable_provider_leaves_the_rule_based_draft(app, fake_llm):
    app.config["LLM_BASE_URL"] = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    result = llm.rewrite(DRAFT, "professional")
    assert (result.used, result.reason) == (False, "it could not be reached")


def test_after_a_provider_error_drafts_do_not_wait_for_it(fake_llm):
    fake_llm.answer(Answer(status=503, raw=b"{}"), Answer(reworded))
    llm.rewrite(DRAFT, "professional")
    result = llm.rewrite(DRAFT.replace("Hello", "Dear"), "professional")
    assert not result.used and len(fake_llm.requests) == 1


def test_the_same_draft_is_rewritten_once(fake_llm):
    fake_llm.answer(Answer(reworded), Answer(reworded))
    first, again = llm.rewrite(DRAFT, "professional"), llm.rewrite(DRAFT, "professional")
    assert first == again and first.used and len(fake_llm.requests) == 1


def test_without_a_provider_nothing_is_asked(app, fake_llm):
    app.config["LLM_BASE_URL"] = ""
    assert llm.rewrite(DRAFT, "professional") is None and fake_llm.requests == []


# Through the compose box

@pytest.fixture
def invoice(org, controller):
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example", name="Maria Lopez")
        found = make_invoice(org, customer, number="INV-88", due_date=workspace_today() - dt.timedelta(days=20))
        db.session.commit()
    return found


def compose_box(client, invoice) -> str:
    return client.get(f"/work/queue/{invoice.id}", headers={**HX, "HX-Target": "compose"}).get_data(as_text=True)


def test_the_compose_box_shows_a_good_rewrite(client, fake_llm, invoice):
    fake_llm.answer(Answer(lambda draft: reworded(draft).replace("Maria,", "Maria, good to be in touch.")))
    html = compose_box(client, invoice)
    assert "good to be in touch" in html and "Rewritten by the writing assistant" in html
    assert "INV-88" in html  # the preview fills the rewrite's merge fields


def test_the_compose_box_keeps_the_rule_based_draft_when_the_rewrite_fails_a_check(client, fake_llm, invoice):
    fake_llm.answer(Answer(lambda draft: draft.replace("{portal_link}", "our website")))
    html = compose_box(client, invoice)
    assert "our website" not in html and "Rewritten by the writing assistant" not in html
    assert "version was not used (it left out {portal_link})" in html


def test_the_compose_box_keeps_the_rule_based_draft_when_the_provider_fails(client, fake_llm, invoice):
    fake_llm.answer(Answer(status=500, raw=b"{}"))
    html = compose_box(client, invoice)
    assert "{invoice_number}" in html and "(it answered HTTP 500)" in html


def test_without_a_provider_the_compose_box_says_nothing_of_it(app, client, fake_llm, invoice):
    app.config["LLM_BASE_URL"] = ""
    html = compose_box(client, invoice)
    assert "writing assistant" not in html and fake_llm.requests == []


def test_a_saved_draft_is_not_rewritten(client, fake_llm, invoice):
    client.post(f"/work/queue/{invoice.id}/draft", headers=HX, data={"subject": "Hi", "body": "Hello {customer_name}"})
    html = compose_box(client, invoice)
    assert "Hello {customer_name}" in html and fake_llm.requests == []


def test_a_preview_never_asks_the_assistant(client, fake_llm, invoice):
    data = {"subject": "Invoice {invoice_number}", "body": "Hello {customer_name}"}
    assert "Hello Globex" in client.post(f"/work/queue/{invoice.id}/preview", headers=HX, data=data).get_data(
        as_text=True)
    assert fake_llm.requests == []


def test_the_email_sent_is_never_given_to_the_assistant(client, fake_llm, invoice):
    data = {"subject": "Invoice {invoice_number}", "body": "Hello {customer_name}, thanks."}
    response = client.post(f"/work/queue/{invoice.id}/send", headers=HX, data=data)
    assert json.loads(response.headers["HX-Trigger"])["queue:changed"]["change"] == "sent"
    # Only the next draft, shown in the refreshed inspector, went to the assistant.
    assert [fake_llm.draft_of(r) for r in fake_llm.requests if "thanks." in fake_llm.draft_of(r)] == []


def test_a_promise_context_reaches_the_rewrite(client, fake_llm, invoice):
    with tenant_scope(invoice.org_id):
        db.session.add(Promise(org_id=invoice.org_id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                               currency="USD", amount_minor=50_000, status="broken",
                               promised_date=workspace_today() - dt.timedelta(days=3)))
        db.session.commit()
    fake_llm.answer(Answer(reworded))
    compose_box(client, invoice)
    assert "{promise_date}" in fake_llm.draft_of(fake_llm.requests[0])
