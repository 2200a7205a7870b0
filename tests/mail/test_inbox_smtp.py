"""The finance inbox over SMTP + IMAP: connecting against real servers on loopback, sending from the workspace's
own address (DKIM-signed for its sending domain), reading replies once, failures shown, disconnecting."""

from __future__ import annotations

import datetime as dt
import imaplib
import json

import dkim
import pytest
from sqlalchemy import func, select, text

from jobs.inbox import read_all_inboxes
from jobs.outbox import send_due_messages
from plixo.audit import AuditEvent
from plixo.background import DEFAULT, enqueue
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.integrations.mail.imap import ImapMailbox, MailboxError
from plixo.mail.deliverability import records_to_publish
from plixo.mail.models import SendingDomain
from plixo.replies import intake as replies_module
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs
from tests.factories import make_org
from tests.mail.conftest import PASSWORD, raw_reply

PAGE = "/admin/connectors/email"
WEDNESDAY = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    for where in ("jobs.outbox.utcnow", "jobs.inbox.utcnow", "plixo.mail.inbox_views.utcnow"):
        monkeypatch.setattr(where, lambda: WEDNESDAY)


def form(ports: dict, **overrides) -> dict:
    values = {"address": "AR@acme.example", "display_name": "Acme Receivables", "smtp_host": "127.0.0.1",
              "imap_host": "127.0.0.1", "username": "", "password": PASSWORD} | ports
    return values | overrides


def connection_of(org) -> Connection | None:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.scalar(select(Connection).where(Connection.kind == "email"))


def connect(client, org, ports, **overrides) -> Connection:
    response = client.post(f"{PAGE}/smtp", data=form(ports, **overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return connection_of(org)


def test_connecting_checks_both_servers_and_keeps_the_password_encrypted(client, org, servers):
    _sink, mailbox, ports = servers
    mailbox.append(raw_reply("An old e-mail from before Plixo", message_id="<old@globex.example>"))
    connection = connect(client, org, ports)
    assert (connection.provider, connection.status, connection.display_name) == ("smtp", "active", "ar@acme.example")
    assert connection.settings["username"] == "ar@acme.example"  # blank username: the address
    assert connection.settings["imap_last_uid"] == 1  # reading starts after what is already there
    assert "password" not in connection.settings and mailbox.logins == 1
    with db.engine.connect() as raw:
        if raw.dialect.name == "postgresql":
            raw.execute(text("SELECT set_config('plixo.workspace', :org, true)"), {"org": str(org.id)})
        stored = raw.execute(text("SELECT secrets FROM connections WHERE kind = 'email'")).scalar()
    assert PASSWORD not in stored
    page = client.get(PAGE).get_data(as_text=True)
    assert "Connected" in page and "Acme Receivables" in page and "Read replies now" in page
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.action == "connectors.email_connected")) \
            == {"status": "active", "provider": "smtp", "address": "ar@acme.example"}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"password": "wrong"}, "refused the username or password"),
    ({"smtp_port": "1"}, "SMTP: Could not connect to 127.0.0.1:1"),
    ({"imap_port": "1"}, "IMAP: Could not reach 127.0.0.1:1"),
    ({"address": "not an address"}, "Enter the mailbox&#39;s e-mail address"),
    ({"smtp_host": "https://smtp.acme.example"}, "Enter the server&#39;s name"),
    ({"imap_port": "99999"}, "Enter the port"),
    ({"password": ""}, "Enter the mailbox password"),
])
def test_a_connection_that_does_not_work_is_refused_with_the_reason_and_nothing_is_kept(
        client, org, servers, overrides, message):
    _sink, _mailbox, ports = servers
    response = client.post(f"{PAGE}/smtp", data=form(ports, **overrides))
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert connection_of(org) is None


def test_a_wrong_imap_password_is_refused_even_when_smtp_accepts_it(client, org, servers):
    _sink, mailbox, ports = servers
    mailbox.users = {"ar@acme.example": "another"}
    response = client.post(f"{PAGE}/smtp", data=form(ports))
    assert response.status_code == 422 and "IMAP: 127.0.0.1 refused" in response.get_data(as_text=True)
    assert connection_of(org) is None


@pytest.mark.parametrize(("overrides", "message"), [
    ({}, "private or internal network"),
    ({"smtp_host": "10.0.0.1"}, "private or internal network"),
    ({"smtp_host": "169.254.169.254"}, "private or internal network"),
    ({"imap_host": "2130706433"}, "private or internal network"),
    ({"smtp_host": "no-such-host.invalid"}, "could not be found"),
    ({"smtp_host": "8.8.8.8", "smtp_port": "6379"}, "Use one of the mail ports"),
])
def test_in_production_only_public_mail_servers_on_mail_ports_are_accepted(client, app, org, servers, overrides,
                                                                           message):
    _sink, _mailbox, ports = servers
    app.config["PLIXO_ENV"] = "production"
    try:
        response = client.post(f"{PAGE}/smtp", data=form(ports, **overrides))
    finally:
        app.config["PLIXO_ENV"] = "development"
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert connection_of(org) is None


def test_imap_without_tls_is_refused_except_on_loopback(servers, monkeypatch):
    _sink, mailbox, ports = servers
    with ImapMailbox("127.0.0.1", ports["imap_port"], "ar@acme.example", PASSWORD):
        pass  # on loopback, plain IMAP is allowed (the fake server offers no STARTTLS)
    monkeypatch.setattr("plixo.integrations.mail.imap.is_loopback", lambda host: False)
    with pytest.raises(MailboxError, match="does not offer TLS"):
        ImapMailbox("127.0.0.1", ports["imap_port"], "ar@acme.example", PASSWORD).__enter__()
    assert mailbox.logins == 1  # the password never went over the plain connection


def test_reminders_go_from_the_connected_mailbox_signed_with_the_domains_dkim_key(client, org, servers, sent):
    sink, _mailbox, ports = servers
    connect(client, org, ports, address="ar@acme.example")
    client.post("/admin/deliverability/domains", data={"domain": "acme.example"})
    _customer, _invoice, _reminder, scheduled = sent
    with tenant_scope(org.id):
        db.session.get(type(scheduled), scheduled.id).scheduled_for = WEDNESDAY - dt.timedelta(minutes=1)
        db.session.commit()
    assert send_due_messages()["sent"] == 1
    received = sink.messages[0]
    assert received["From"] == "Acme Receivables <ar@acme.example>" and received["To"] == "ap@globex.example"
    assert received["Message-ID"].endswith("@acme.example>")
    with tenant_scope(org.id):
        sending = db.session.scalar(select(SendingDomain))
    published = {record.host + ".": record.value.encode() for record in records_to_publish(sending)}
    assert b"d=acme.example" in sink.raw[0] and f"s={sending.dkim_selector}".encode() in sink.raw[0]
    assert dkim.verify(sink.raw[0], dnsfunc=lambda name, timeout=5: published.get(name.decode(), b""))
    tampered = sink.raw[0].replace(b"Please pay.", b"Please pay to IBAN XX.")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: published.get(name.decode(), b""))


def test_replies_are_read_once_and_acted_on(client, org, servers, sent):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    _customer, invoice, _reminder, _scheduled = sent
    mailbox.append(raw_reply("We dispute this invoice: the goods never arrived."))
    mailbox.append(raw_reply("I am out of the office until 14 December.", message_id="<ooo@globex.example>"))
    assert read_all_inboxes() == {org.id: 2}
    assert read_all_inboxes() == {org.id: 0}
    with tenant_scope(org.id):
        labels = dict(db.session.execute(select(Reply.header_message_id, Reply.label)).all())
        assert labels == {"<reply-1@globex.example>": "dispute", "<ooo@globex.example>": "out_of_office"}
    connection = connection_of(org)
    assert connection.last_sync_at is not None and connection.settings["imap_last_uid"] == 2
    fetches = [command for command in mailbox.commands if command.startswith("UID FETCH")]
    assert fetches and all("BODY.PEEK[]" in command for command in fetches)  # reading never marks them read
    assert invoice.id in {r for (r,) in _reply_invoices(org)}


def _reply_invoices(org):
    with tenant_scope(org.id):
        return db.session.execute(select(Reply.invoice_id)).all()


def test_read_replies_now_reports_how_many(client, org, servers, sent):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    mailbox.append(raw_reply("Can you send me a copy of the invoice please?"))
    page = client.post(f"{PAGE}/sync", follow_redirects=True).get_data(as_text=True)
    assert "1 new e-mail read." in page
    page = client.post(f"{PAGE}/sync", follow_redirects=True).get_data(as_text=True)
    assert "No new e-mails." in page


def test_a_renumbered_folder_restarts_from_its_end_without_reading_old_mail_again(client, org, servers, sent):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    mailbox.append(raw_reply("We dispute this invoice."))
    assert read_all_inboxes() == {org.id: 1}
    mailbox.renumber()
    mailbox.append(raw_reply("Please send a copy of the invoice.", message_id="<later@globex.example>"))
    assert read_all_inboxes() == {org.id: 0}  # the new numbering is learnt; nothing older is re-read
    mailbox.append(raw_reply("We will pay on Friday.", message_id="<friday@globex.example>"))
    assert read_all_inboxes() == {org.id: 1}
    with tenant_scope(org.id):
        assert db.session.scalar(select(func.count()).select_from(Reply)) == 2


def test_a_mailbox_that_stops_answering_is_shown_as_an_error_until_it_works_again(client, org, servers, sent):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    mailbox.users = {"ar@acme.example": "changed"}
    assert read_all_inboxes() == {org.id: 0}
    connection = connection_of(org)
    assert connection.status == "error" and "refused" in connection.last_error
    page = client.get(PAGE).get_data(as_text=True)
    assert "Error" in page and "Reading replies failed" in page
    mailbox.users = {"ar@acme.example": PASSWORD}
    read_all_inboxes()
    connection = connection_of(org)
    assert (connection.status, connection.last_error) == ("active", None)


def test_re_authorising_with_a_blank_password_keeps_the_stored_one(client, org, servers):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    connection = connect(client, org, ports, password="", display_name="AR team")
    assert connection.settings["display_name"] == "AR team" and json.loads(connection.secrets)["password"] == PASSWORD
    assert mailbox.logins == 2


def test_disconnecting_asks_first_then_stops_sending_and_reading(client, app, org, servers, sent):
    sink, mailbox, ports = servers
    connect(client, org, ports)
    assert "Disconnect ar@acme.example?" in client.post(f"{PAGE}/disconnect", follow_redirects=True).get_data(
        as_text=True)
    assert connection_of(org).status == "active"
    client.post(f"{PAGE}/disconnect", data={"confirm": "yes", "reason": "Moving to Microsoft 365"})
    connection = connection_of(org)
    assert (connection.status, connection.secrets) == ("disconnected", None)
    with tenant_scope(org.id):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "connectors.email_disconnected"))
        assert event.reason == "Moving to Microsoft 365"
    # The server's own SMTP is not used instead: the workspace chose its own address.
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", ports["smtp_port"]
    try:
        _customer, _invoice, _reminder, scheduled = sent
        with tenant_scope(org.id):
            db.session.get(type(scheduled), scheduled.id).scheduled_for = WEDNESDAY - dt.timedelta(minutes=1)
            db.session.commit()
        assert send_due_messages().get("sent", 0) == 0 and sink.messages == []
    finally:
        app.config["SMTP_HOST"] = ""
    mailbox.append(raw_reply("We dispute this invoice."))
    assert read_all_inboxes() == {org.id: 0}


def test_one_workspace_never_reads_or_sees_anothers_inbox(client, org, servers, sent, app):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    other = make_org(name="Other Co")
    db.session.commit()
    mailbox.append(raw_reply("We dispute this invoice."))
    assert read_all_inboxes() == {org.id: 1, other.id: 0}
    with tenant_scope(other.id):
        assert db.session.scalar(select(func.count()).select_from(Reply)) == 0
        assert db.session.scalar(select(func.count()).select_from(Connection)) == 0


def test_operators_cannot_manage_the_inbox(client_as, org, servers):
    _sink, _mailbox, ports = servers
    operator = client_as("operator")
    assert operator.get(PAGE).status_code == 403
    assert operator.post(f"{PAGE}/smtp", data=form(ports)).status_code == 403
    assert operator.post(f"{PAGE}/disconnect", data={"confirm": "yes"}).status_code == 403


def test_the_cron_job_reads_replies_on_a_real_worker(client, org, servers, sent):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    mailbox.append(raw_reply("We dispute this invoice: wrong quantity."))
    enqueue(DEFAULT, read_all_inboxes)
    run_jobs()
    with tenant_scope(org.id):
        assert db.session.scalar(select(Reply.label)) == "dispute"


def test_the_stored_password_is_never_sent_to_a_server_typed_in_since(client, org, servers):
    _sink, _mailbox, ports = servers
    connect(client, org, ports)
    response = client.post(f"{PAGE}/smtp", data=form(ports, password="", smtp_host="localhost"))
    assert response.status_code == 422 and "needed again whenever a server" in response.get_data(as_text=True)
    assert connection_of(org).settings["smtp_host"] == "127.0.0.1"


def test_one_email_that_cannot_be_read_does_not_hold_back_the_others(client, org, servers, sent, monkeypatch):
    _sink, mailbox, ports = servers
    connect(client, org, ports)
    mailbox.append(raw_reply("Poison", message_id="<poison@globex.example>"))
    mailbox.append(raw_reply("We dispute this invoice."))
    real = replies_module.ingest_reply

    def choking(session, org_, raw, now):
        if b"<poison@globex.example>" in raw:
            raise ValueError("unreadable")
        return real(session, org_, raw, now)

    monkeypatch.setattr(replies_module, "ingest_reply", choking)
    assert read_all_inboxes() == {org.id: 2}
    with tenant_scope(org.id):
        assert db.session.scalars(select(Reply.header_message_id)).all() == ["<reply-1@globex.example>"]
    assert connection_of(org).settings["imap_last_uid"] == 2


def test_a_server_that_drops_the_session_mid_read_is_reported_not_raised(client, org, servers, sent, monkeypatch):
    _sink, _mailbox, ports = servers
    connect(client, org, ports)

    def dropped(self, since, limit):
        raise imaplib.IMAP4.abort("socket error: EOF")

    monkeypatch.setattr(ImapMailbox, "_read_after", dropped)
    page = client.post(f"{PAGE}/sync", follow_redirects=True).get_data(as_text=True)
    assert "stopped answering properly" in page and connection_of(org).status == "error"


def test_a_refused_password_stops_sending_until_it_is_entered_again(client, org, servers, sent):
    sink, _mailbox, ports = servers
    connect(client, org, ports)
    _customer, _invoice, _reminder, scheduled = sent
    sink.users["ar@acme.example"] = "rotated"
    with tenant_scope(org.id):
        db.session.get(type(scheduled), scheduled.id).scheduled_for = WEDNESDAY - dt.timedelta(minutes=1)
        db.session.commit()
    assert send_due_messages()["mailbox_unavailable"] == 1
    connection = connection_of(org)
    assert connection.status == "error" and "refused the mailbox's username or password" in connection.last_error
    assert send_due_messages().get("mailbox_unavailable", 0) == 0  # not asked again with the refused password
    assert sink.messages == []


def test_the_sender_name_loses_invisible_and_control_characters(client, org, servers):
    _sink, _mailbox, ports = servers
    connection = connect(client, org, ports, display_name="Acme\u202e Receivables\u200b\r\nBcc: x@evil.example")
    assert connection.settings["display_name"] == "Acme Receivables Bcc: x@evil.example"
