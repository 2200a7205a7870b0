"""Admin → Deliverability: DKIM keys Plixo makes, the records to publish, and live checks against a DNS server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, text

from plixo.extensions import db
from plixo.mail.deliverability import records_to_publish
from plixo.mail.models import SendingDomain
from plixo.tenancy import tenant_scope
from tests.fake_dns import serve

PAGE = "/admin/deliverability"


@pytest.fixture
def dns_zone(app):
    book, server, port = serve()
    saved = {name: app.config[name] for name in ("DNS_NAMESERVERS", "DNS_PORT", "SPF_INCLUDE")}
    app.config.update(DNS_NAMESERVERS="127.0.0.1", DNS_PORT=port, SPF_INCLUDE="_spf.plixo.example")
    yield book
    server.stop()
    app.config.update(saved)


def added(client, org, domain="acme.com") -> SendingDomain:
    client.post(f"{PAGE}/domains", data={"domain": domain})
    with tenant_scope(org.id):
        return db.session.scalar(select(SendingDomain).where(SendingDomain.domain == domain.lower().rstrip(".")))


def publish(zone, sending: SendingDomain, **overrides) -> None:
    for record in records_to_publish(sending):
        value = overrides.get(record.kind, record.value)
        if value is not None:
            zone.txt.setdefault(record.host, []).append(value)


def check(client, org, sending: SendingDomain) -> SendingDomain:
    client.post(f"{PAGE}/domains/{sending.id}/check")
    with tenant_scope(org.id):
        return db.session.get(SendingDomain, sending.id)


def test_adding_a_domain_makes_a_dkim_key_pair_and_the_records_to_publish(client, org, dns_zone):
    sending = added(client, org, "Acme.COM.")
    assert sending.domain == "acme.com" and sending.dkim_selector.startswith("plixo")
    key = serialization.load_pem_private_key(sending.dkim_private_key.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64encode(public).decode() == sending.dkim_public_key and key.key_size == 2048
    page = client.get(PAGE).get_data(as_text=True)
    assert f"{sending.dkim_selector}._domainkey.acme.com" in page and "include:_spf.plixo.example" in page
    assert "_dmarc.acme.com" in page and "data-copy=" in page and "Not ready for Autopilot" in page


def test_the_private_key_is_encrypted_at_rest(client, org, dns_zone):
    added(client, org)
    with db.engine.connect() as raw:
        if raw.dialect.name == "postgresql":
            raw.execute(text("SELECT set_config('plixo.workspace', :org, true)"), {"org": str(org.id)})
        stored = raw.execute(text("SELECT dkim_private_key FROM sending_domains")).scalar()
    assert "PRIVATE KEY" not in stored


@pytest.mark.parametrize(("domain", "message"), [
    ("", "Enter a domain"), ("https://acme.com", "Enter a domain"), ("ar@acme.com", "Enter a domain"),
    ("localhost", "Enter a domain"),
])
def test_a_bad_domain_is_refused_and_nothing_is_added(client, org, dns_zone, domain, message):
    page = client.post(f"{PAGE}/domains", data={"domain": domain}, follow_redirects=True).get_data(as_text=True)
    assert message in page
    with tenant_scope(org.id):
        assert db.session.scalar(select(SendingDomain)) is None


def test_a_domain_is_added_once(client, org, dns_zone):
    added(client, org)
    page = client.post(f"{PAGE}/domains", data={"domain": "acme.com"}, follow_redirects=True).get_data(as_text=True)
    assert "already on this page" in page


def test_all_three_records_published_make_the_domain_ready_for_autopilot(client, org, dns_zone):
    sending = added(client, org)
    dns_zone.txt["acme.com"] = ["google-site-verification=abc"]  # other TXT records do not get in the way
    publish(dns_zone, sending)
    checked = check(client, org, sending)
    assert {kind: c["state"] for kind, c in checked.checks.items()} == \
        {"spf": "verified", "dkim": "verified", "dmarc": "verified"}
    assert checked.ready_for_autopilot and checked.checked_at is not None
    assert "Ready for Autopilot" in client.get(PAGE).get_data(as_text=True)


def test_missing_and_wrong_records_say_what_was_found(client, org, dns_zone):
    sending = added(client, org)
    publish(dns_zone, sending, spf="v=spf1 include:_spf.google.com ~all", dmarc=None)
    checked = check(client, org, sending)
    assert checked.checks["spf"] == {"state": "mismatch", "found": "v=spf1 include:_spf.google.com ~all",
                                     "expected": "v=spf1 include:_spf.plixo.example ~all", "host": "acme.com"}
    assert checked.checks["dmarc"]["state"] == "missing" and checked.checks["dkim"]["state"] == "verified"
    page = client.get(PAGE).get_data(as_text=True)
    assert "Mismatch" in page and "Missing" in page and "Found instead" in page and "Not ready for Autopilot" in page


def test_a_dkim_record_with_another_key_is_a_mismatch(client, org, dns_zone):
    sending = added(client, org)
    publish(dns_zone, sending, dkim="v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold")
    assert check(client, org, sending).checks["dkim"]["state"] == "mismatch"


def test_dns_not_answering_changes_nothing_and_says_so(client, app, org, dns_zone):
    sending = added(client, org)
    app.config["DNS_PORT"] = 9  # nothing listens there
    page = client.post(f"{PAGE}/domains/{sending.id}/check", follow_redirects=True).get_data(as_text=True)
    assert "DNS did not answer" in page
    with tenant_scope(org.id):
        assert db.session.get(SendingDomain, sending.id).checked_at is None


def test_operators_cannot_manage_sending_domains(client_as, org, dns_zone):
    operator = client_as("operator")
    assert operator.get(PAGE).status_code == 403
    assert operator.post(f"{PAGE}/domains", data={"domain": "acme.com"}).status_code == 403


def _details_tag(page: str, sending: SendingDomain, kind: str) -> str:
    start = page.index(f'id="domain-{sending.id}-{kind}"')
    return page[page.rindex("<details", 0, start):page.index(">", start)]


def test_after_adding_a_domain_the_toast_names_the_three_records_and_all_three_are_open(client, org, dns_zone):
    response = client.post(f"{PAGE}/domains", data={"domain": "acme.com"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Publish the three records below (SPF, DKIM and DMARC)" in page
    with tenant_scope(org.id):
        sending = db.session.scalar(select(SendingDomain))
    for kind in ("spf", "dkim", "dmarc"):
        assert " open" in _details_tag(page, sending, kind), kind


def test_a_record_closes_once_verified_and_the_others_stay_open(client, org, dns_zone):
    sending = added(client, org)
    publish(dns_zone, sending, spf="v=spf1 include:_spf.google.com ~all", dmarc=None)
    check(client, org, sending)
    page = client.get(PAGE).get_data(as_text=True)
    assert " open" not in _details_tag(page, sending, "dkim")
    assert " open" in _details_tag(page, sending, "spf") and " open" in _details_tag(page, sending, "dmarc")


def test_the_records_have_a_visible_expand_marker(app):
    css = (Path(app.static_folder) / "app.css").read_text()
    assert ".record summary::before" in css and ".record[open] > summary::before" in css
