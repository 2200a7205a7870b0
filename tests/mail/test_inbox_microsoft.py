"""The finance inbox on Microsoft 365: msal sign-in with the ID token checked by Plixo, sending through Graph with
the draft kept so a retry never sends twice, tokens refreshed, replies read through Graph's delta — all against a
fake Microsoft on loopback, driven by the real msal and requests."""

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
from tests.mail.conftest import EMAIL_CONNECTOR as PAGE
from tests.mail.conftest import connection_of, due, due_again, message_of, raw_reply, sign_in

pytestmark = pytest.mark.usefixtures("open_all_week")


# --- Sign-in ---------------------------------------------------------------------------------------------------

def test_signing_in_connects_the_mailbox_with_its_tokens_encrypted(org, connected, fake):
    assert (connected.provider, connected.status, connected.display_name) == ("microsoft", "active",
                                                                               "ar@acme.example")
    assert connected.settings["display_name"] == "Acme Receivables"
    assert connected.settings["delta_link"].startswith(fake.base)
    with db.engine.connect() as raw:
        if raw.dialect.name == "postgresql":
            raw.execute(text("SELECT set_config('plixo.workspace', :org, true)"), {"org": str(org.id)})
        stored = raw.execute(text("SELECT secrets FROM connections WHERE kind = 'email'")).scalar()
    assert "RefreshToken" in json.loads(connected.secrets)["token_cache"] and "RefreshToken" not in stored
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.action == "connectors.email_connected"))[
            "provider"] == "microsoft"


@pytest.mark.parametrize("tampered", [
    {"aud": "someone-elses-app"}, {"exp": int(time.time()) - 3600}, {"iss": "https://evil.example/x/v2.0"},
    {"nonce": None},
])
def test_an_id_token_that_does_not_check_out_connects_nothing(client, org, fake, tampered):
    fake.id_token_overrides = tampered
    page = sign_in(client, fake)
    assert "Please sign in again" in page or "does not match" in page
    assert connection_of(org) is None


def test_an_id_token_signed_with_an_unpublished_key_connects_nothing(client, org, fake):
    fake.sign_with_other_key = True
    assert "could not be verified" in sign_in(client, fake)
    assert connection_of(org) is None


def test_a_refusal_or_a_forged_answer_connects_nothing(client, org, fake):
    assert "Microsoft 365 was not connected" in sign_in(client, fake, answer=fake.deny)
    started = client.post(f"{PAGE}/microsoft")
    back = urlsplit(fake.authorize(started.headers["Location"]))
    forged = back.query.replace("state=", "state=x")
    assert "not started from this workspace" in client.get(f"{back.path}?{forged}",
                                                             follow_redirects=True).get_data(as_text=True)
    assert connection_of(org) is None


def test_without_an_app_registration_microsoft_is_not_offered(client, app, org):
    page = client.get(PAGE).get_data(as_text=True)
    assert "MS_CLIENT_ID and MS_CLIENT_SECRET are not set" in page
    assert "not set up on this server" in client.post(f"{PAGE}/microsoft", follow_redirects=True).get_data(
        as_text=True)


def test_building_the_app_contacts_nobody_until_a_sign_in_needs_it(app, fake):
    from plixo import create_app

    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "MS_CLIENT_ID": fake.client_id, "MS_CLIENT_SECRET": fake.client_secret,
                "MS_AUTHORITY_HOST": fake.base, "MS_GRAPH_BASE": fake.graph, "MAIL_CA_BUNDLE": fake.ca_file})
    assert fake.requests == []


# --- Sending ---------------------------------------------------------------------------------------------------

def test_a_reminder_leaves_from_the_mailbox_through_graph_once(org, connected, fake, sent):
    message_id = due(sent)
    assert send_due_messages()["sent"] == 1
    assert send_due_messages().get("sent", 0) == 0
    message = message_of(org, message_id)
    assert message.status == "sent" and message.provider_draft_id
    assert fake.times_sent(message.message_id_header) == 1
    copy = fake.sent[0]
    assert copy["from"]["emailAddress"]["address"] == "ar@acme.example"
    assert copy["toRecipients"][0]["emailAddress"]["address"] == "ap@globex.example"


def test_graph_sending_later_after_a_202_with_retry_after_is_never_sent_again(org, connected, fake, sent):
    fake.send_retry_after = "30"  # accepted now, filed in Sent Items only later
    message_id = due(sent)
    assert send_due_messages()["sent"] == 1
    # A retry of the same message (as after a crash) finds the draft gone and not yet filed: it waits, sending nothing.
    due_again(org, message_id, status="scheduled")
    assert send_due_messages()["retry"] == 1
    fake.clock = lambda: time.time() + 60  # Graph has filed it in Sent Items by the next attempt
    due_again(org, message_id)
    assert send_due_messages()["sent"] == 1
    assert fake.times_sent(message_of(org, message_id).message_id_header) == 1


def test_a_draft_someone_deleted_is_never_recorded_as_sent(org, connected, fake, sent):
    fake.send_script = [("status", 503, None)]
    message_id = due(sent)
    send_due_messages()
    fake.messages.pop(message_of(org, message_id).provider_draft_id)  # someone deletes the odd draft in Outlook
    for _attempt in range(3):
        due_again(org, message_id)
        send_due_messages()
    message = message_of(org, message_id)
    assert message.status == "review" and "Sent Items" in message.last_error and fake.sent == []


def test_a_retry_sends_the_email_as_it_is_now_not_the_old_draft(org, connected, fake, sent):
    fake.send_script = [("status", 503, None)]
    message_id = due(sent)
    send_due_messages()
    old_draft = message_of(org, message_id).provider_draft_id
    due_again(org, message_id, body="Please pay the new balance.")
    assert send_due_messages()["sent"] == 1
    assert fake.sent[0]["body"]["content"].startswith("Please pay the new balance.")
    assert old_draft not in fake.messages and message_of(org, message_id).provider_draft_id != old_draft


def test_re_authorising_the_same_mailbox_keeps_where_reading_stopped(client, org, connected, fake, sent):
    fake.revoke_refresh_tokens()
    fake.expire_access_tokens()
    fake.deliver(raw_reply("We dispute this invoice.", message_id="<during-outage@globex.example>"))
    assert read_all_inboxes() == {org.id: 0} and connection_of(org).status == "error"
    assert "ar@acme.example connected" in sign_in(client, fake)
    assert read_all_inboxes() == {org.id: 1}  # the reply that came while it was failing


def test_switching_mailboxes_hands_half_sent_drafts_to_a_person(client, org, connected, fake, sent, servers):
    fake.send_script = [("status", 503, None)]
    message_id = due(sent)
    send_due_messages()
    _sink, _mailbox, ports = servers
    client.post(f"{PAGE}/smtp", data={"address": "ar@acme.example", "smtp_host": "127.0.0.1", "imap_host": "127.0.0.1",
                                       "password": "app-password-1", **ports})
    message = message_of(org, message_id)
    assert message.status == "review" and "check that mailbox's sent items" in message.last_error


def test_an_expired_access_token_is_refreshed_and_kept(org, connected, fake, sent):
    before = connected.secrets
    fake.expire_access_tokens()
    due(sent)
    assert send_due_messages()["sent"] == 1
    assert connection_of(org).secrets != before  # the rotated refresh token is stored


def test_a_revoked_sign_in_stops_sending_until_someone_signs_in_again(client, org, connected, fake, sent):
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    message_id = due(sent)
    assert send_due_messages().get("mailbox_unavailable") == 1
    connection = connection_of(org)
    assert connection.status == "error" and connection.settings["needs_reauth"]
    assert "Re-authorise the mailbox" in client.get(PAGE).get_data(as_text=True)
    due_again(org, message_id)
    assert send_due_messages().get("sent", 0) == 0 and fake.sent == []  # nothing tried while it is refused
    assert "ar@acme.example connected" in sign_in(client, fake)
    assert send_due_messages()["sent"] == 1 and len(fake.sent) == 1


def test_throttling_retries_later_without_sending(org, connected, fake, sent):
    fake.send_script = [("status", 429, "5")]
    message_id = due(sent)
    assert send_due_messages()["retry"] == 1 and fake.sent == []
    assert "asked to wait 5 s" in message_of(org, message_id).last_error


def test_a_connection_lost_after_graph_accepted_the_send_is_resolved_without_sending_twice(org, connected, fake,
                                                                                            sent):
    fake.send_script = [("drop_after_send",)]
    message_id = due(sent)
    assert send_due_messages()["retry"] == 1  # the outcome is unknown: checked on the next attempt
    due_again(org, message_id)
    assert send_due_messages()["sent"] == 1
    assert fake.times_sent(message_of(org, message_id).message_id_header) == 1


def test_a_draft_never_sent_is_replaced_and_sent_on_the_retry(org, connected, fake, sent):
    fake.send_script = [("status", 503, None)]
    message_id = due(sent)
    send_due_messages()
    draft = message_of(org, message_id).provider_draft_id
    due_again(org, message_id)
    assert send_due_messages()["sent"] == 1
    assert message_of(org, message_id).provider_draft_id != draft and draft not in fake.messages  # replaced
    assert len(fake.sent) == 1


# --- Reading ---------------------------------------------------------------------------------------------------

def test_replies_are_read_through_graph_once(org, connected, fake, sent):
    fake.deliver(raw_reply("We dispute this invoice: the goods never arrived."))
    fake.deliver(raw_reply("Out of the office until 14 December.", message_id="<ooo@globex.example>"))
    assert read_all_inboxes() == {org.id: 2}
    assert read_all_inboxes() == {org.id: 0}
    with tenant_scope(org.id):
        assert sorted(db.session.scalars(select(Reply.label))) == ["dispute", "out_of_office"]
    assert connection_of(org).last_sync_at is not None


def test_reading_a_long_backlog_resumes_where_it_stopped(org, connected, fake, sent, monkeypatch):
    monkeypatch.setattr("plixo.replies.intake.READ_PER_RUN", 3)
    fake.page_size = 2
    for n in range(7):
        fake.deliver(raw_reply(f"Please send a copy of the invoice ({n}).", message_id=f"<copy-{n}@globex.example>"))
    counts = [read_all_inboxes()[org.id] for _ in range(4)]
    assert sum(counts) == 7 and counts[-1] == 0
    with tenant_scope(org.id):
        assert len(db.session.scalars(select(Reply.id)).all()) == 7
