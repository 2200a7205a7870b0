"""The finance inbox on Gmail: Google sign-in with PKCE and the ID token checked by Plixo, sending through Gmail
drafts so a retry never sends twice, tokens refreshed, replies read by history id — against a fake Google on
loopback, driven by the real google-auth-oauthlib, google-auth and requests."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text

from jobs.inbox import read_all_inboxes
from jobs.outbox import send_due_messages
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.fake_gmail import GMAIL_COMPOSE
from tests.mail.conftest import EMAIL_CONNECTOR as PAGE
from tests.mail.conftest import (
    connection_of,
    due,
    due_again,
    message_of,
    raw_reply,
    sign_in_with_google,
)

pytestmark = pytest.mark.usefixtures("open_all_week")


def test_signing_in_connects_the_gmail_mailbox_with_its_tokens_encrypted(org, gmail_connected, google):
    assert (gmail_connected.provider, gmail_connected.status) == ("gmail", "active")
    assert gmail_connected.settings["history_id"]
    stored = json.loads(gmail_connected.secrets)
    assert stored["refresh_token"] and GMAIL_COMPOSE in stored["scopes"] and "client_secret" not in stored
    with db.engine.connect() as raw:
        if raw.dialect.name == "postgresql":
            raw.execute(text("SELECT set_config('plixo.workspace', :org, true)"), {"org": str(org.id)})
        kept = raw.execute(text("SELECT secrets FROM connections WHERE kind = 'email'")).scalar()
    assert stored["refresh_token"] not in kept
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.action == "connectors.email_connected"))[
            "provider"] == "gmail"


@pytest.mark.parametrize("tampered", [
    {"aud": "someone-elses-app"}, {"exp": int(time.time()) - 3600}, {"iss": "https://evil.example"},
    {"nonce": "not-this-sign-in"}, {"email_verified": False},
])
def test_an_id_token_that_does_not_check_out_connects_nothing(client, org, google, tampered):
    google.id_token_overrides = tampered
    page = sign_in_with_google(client, google)
    assert "Please sign in again" in page or "did not confirm" in page
    assert connection_of(org) is None


def test_unticking_a_permission_connects_nothing_and_says_why(client, org, google):
    page = sign_in_with_google(client, google, answer=lambda url: google.authorize(url, decline=(GMAIL_COMPOSE,)))
    assert "Plixo needs every permission it asks for" in page
    assert connection_of(org) is None


def test_a_refusal_or_a_forged_answer_connects_nothing(client, org, google):
    assert "Gmail was not connected" in sign_in_with_google(client, google, answer=google.deny)
    started = client.post(f"{PAGE}/gmail")
    back = urlsplit(google.authorize(started.headers["Location"]))
    forged = back.query.replace("state=", "state=x")
    assert "not started from this workspace" in client.get(f"{back.path}?{forged}",
                                                             follow_redirects=True).get_data(as_text=True)
    assert connection_of(org) is None


def test_a_reminder_leaves_through_a_gmail_draft_once(org, gmail_connected, google, sent):
    message_id = due(sent)
    assert send_due_messages()["sent"] == 1
    assert send_due_messages().get("sent", 0) == 0
    message = message_of(org, message_id)
    assert message.status == "sent" and message.provider_draft_id
    assert google.times_sent(message.message_id_header) == 1
    assert google.sent[0]["message"]["To"] == "ap@globex.example"


def test_a_lost_answer_after_gmail_sent_is_resolved_without_sending_twice(org, gmail_connected, google, sent):
    google.send_script = [("drop_after_send",)]
    message_id = due(sent)
    assert send_due_messages()["retry"] == 1
    due_again(org, message_id)
    assert send_due_messages()["sent"] == 1
    assert google.times_sent(message_of(org, message_id).message_id_header) == 1


def test_throttling_sends_nothing_and_the_retry_sends_once(org, gmail_connected, google, sent):
    google.send_script = [("status", 429, "7")]
    message_id = due(sent)
    assert send_due_messages()["retry"] == 1 and google.sent == []
    assert "asked to wait 7 s" in message_of(org, message_id).last_error
    draft = message_of(org, message_id).provider_draft_id
    due_again(org, message_id)
    assert send_due_messages()["sent"] == 1 and len(google.sent) == 1
    assert message_of(org, message_id).provider_draft_id != draft and draft not in google.drafts  # replaced


def test_an_expired_access_token_is_refreshed_and_kept(org, gmail_connected, google, sent):
    before = json.loads(gmail_connected.secrets)["token"]
    google.expire_access_tokens()
    due(sent)
    assert send_due_messages()["sent"] == 1
    assert json.loads(connection_of(org).secrets)["token"] != before


def test_a_revoked_grant_stops_sending_until_someone_signs_in_again(client, org, gmail_connected, google, sent):
    google.expire_access_tokens()
    google.revoke_refresh_tokens()
    message_id = due(sent)
    assert send_due_messages().get("mailbox_unavailable") == 1
    assert connection_of(org).settings["needs_reauth"]
    due_again(org, message_id)
    assert send_due_messages().get("sent", 0) == 0 and google.sent == []
    assert "ar@acme.example connected" in sign_in_with_google(client, google)
    assert send_due_messages()["sent"] == 1


def test_replies_are_read_by_history_once(org, gmail_connected, google, sent):
    google.deliver(raw_reply("We dispute this invoice: the goods never arrived."))
    google.deliver(raw_reply("Out of the office until 14 December.", message_id="<ooo@globex.example>"))
    assert read_all_inboxes() == {org.id: 2}
    assert read_all_inboxes() == {org.id: 0}
    with tenant_scope(org.id):
        assert sorted(db.session.scalars(select(Reply.label))) == ["dispute", "out_of_office"]


def test_a_long_backlog_is_read_over_several_runs(org, gmail_connected, google, sent, monkeypatch):
    monkeypatch.setattr("plixo.replies.intake.READ_PER_RUN", 3)
    google.page_size = 2
    for n in range(7):
        google.deliver(raw_reply(f"Please send a copy of the invoice ({n}).", message_id=f"<copy-{n}@globex.example>"))
    counts = [read_all_inboxes()[org.id] for _ in range(4)]
    assert sum(counts) == 7 and counts[-1] == 0


def test_history_too_old_restarts_from_the_mailbox_end(org, gmail_connected, google, sent):
    google.deliver(raw_reply("We dispute this invoice."))
    google.expire_history()
    assert read_all_inboxes() == {org.id: 0}
    google.deliver(raw_reply("Please send a copy.", message_id="<copy@globex.example>"))
    assert read_all_inboxes() == {org.id: 1}


def test_disconnecting_withdraws_the_grant_at_google(client, org, gmail_connected, google):
    refresh_token = json.loads(gmail_connected.secrets)["refresh_token"]
    client.post(f"{PAGE}/disconnect", data={"confirm": "yes", "reason": "Switching"})
    assert connection_of(org).status == "disconnected" and refresh_token in google.revoked


def test_connecting_gmail_replaces_a_microsoft_inbox(client, org, fake, connected, google):
    assert "ar@acme.example connected" in sign_in_with_google(client, google)
    db.session.rollback()
    with tenant_scope(org.id):
        from plixo.connectors.models import Connection

        states = dict(db.session.execute(select(Connection.provider, Connection.status)).all())
    assert states == {"microsoft": "disconnected", "gmail": "active"}


def test_gmail_is_not_offered_without_an_oauth_client(client, org):
    assert "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set" in client.get(PAGE).get_data(as_text=True)

