"""The portal's rules without HTTP: who the payer is, and the workspace branding it shows."""

from __future__ import annotations

import pytest

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.ledger.payer_links import LinkError, PortalClaim
from plixo.portal import service
from plixo.tenancy import tenant_scope
from tests.factories import make_contact


def test_the_payer_is_named_by_the_contact_reminders_go_to(org, ledger):
    with tenant_scope(org.id):
        payer = service.find_payer(db.session, PortalClaim(org.id, ledger.customer.id, 1))
    assert payer.actor == "Payer portal (ap@globex.example)"


def test_a_customer_without_contacts_is_named_by_its_name(org, ledger):
    with tenant_scope(org.id):
        for contact in ledger.customer.contacts:
            db.session.delete(contact)
        db.session.flush()
        db.session.expire_all()
        payer = service.find_payer(db.session, PortalClaim(org.id, ledger.customer.id, 1))
    assert payer.actor == "Payer portal (Globex)" and payer.contact is None


def test_a_bounced_contact_is_passed_over_for_a_deliverable_one(org, ledger):
    with tenant_scope(org.id):
        ledger.customer.contacts[0].bounce_kind = "hard"
        make_contact(ledger.customer, email="finance@globex.example", is_primary=False)
        payer = service.find_payer(db.session, PortalClaim(org.id, ledger.customer.id, 1))
    assert payer.contact.email == "finance@globex.example"


def test_an_old_version_is_revoked(org, ledger):
    with tenant_scope(org.id), pytest.raises(LinkError, match="no longer valid"):
        service.find_payer(db.session, PortalClaim(org.id, ledger.customer.id, 2))


@pytest.mark.parametrize(("stored", "shown"), [("#1f2937", "#1f2937"), ("#ABCDEF", "#ABCDEF"), (None, None),
                                               ("red", None), ("#12345g", None), ("#fff;}", None)])
def test_only_a_plain_hex_colour_is_used(stored, shown):
    assert service.brand_color(Organization(name="X", brand_color=stored)) == shown


@pytest.mark.parametrize(("color", "ink"), [("#ffffff", "#111827"), ("#fde047", "#111827"), ("#1f2937", "#ffffff"),
                                            ("#4f46e5", "#ffffff")])
def test_button_text_stays_readable_on_the_accent(color, ink):
    assert service.readable_ink(color) == ink


def test_a_logo_path_outside_the_upload_folder_is_ignored(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n....")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    assert service.logo_file(Organization(name="X", logo_path="../secret.png"), uploads) is None


def test_a_logo_that_is_not_an_image_is_ignored(tmp_path):
    (tmp_path / "logo.png").write_bytes(b"<svg onload=alert(1)>")
    assert service.logo_file(Organization(name="X", logo_path="logo.png"), tmp_path) is None


def test_a_png_logo_under_the_upload_folder_is_served(tmp_path):
    (tmp_path / "logos").mkdir()
    (tmp_path / "logos" / "acme.png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    found = service.logo_file(Organization(name="X", logo_path="logos/acme.png"), tmp_path)
    assert found == ((tmp_path / "logos" / "acme.png").resolve(), "image/png")
