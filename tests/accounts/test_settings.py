"""Admin → Workspace settings: each rule of the service, the audit, and the page over HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from plixo.accounts import settings
from plixo.accounts.models import Organization
from plixo.accounts.settings import SettingsError, SettingsInput
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.security import ROLES
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import make_org, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GOOD = {"name": "Acme Robotics", "legal_name": "Acme Robotics Inc.", "time_zone": "Europe/Berlin",
        "base_currency": "EUR", "brand_color": "#0F766E",
        "remittance_details": "Bank: First Example Bank\r\nIBAN: DE89 3704 0044 0532 0130 00  \r\n",
        "email_signature": "Acme Robotics Inc.\nAccounts Receivable · +1 555 0100"}


def typed(**changes) -> SettingsInput:
    return SettingsInput(**{**GOOD, **changes})


def reload(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


# --- The service -------------------------------------------------------------------------------------------

def test_good_settings_are_saved_normalised_and_audited_with_before_and_after(scoped, controller):
    changes = settings.update_settings(db.session, scoped, controller, typed())
    db.session.commit()
    org = reload(scoped)
    assert (org.name, org.legal_name, org.time_zone, org.base_currency, org.brand_color) == (
        "Acme Robotics", "Acme Robotics Inc.", "Europe/Berlin", "EUR", "#0f766e")
    assert org.remittance_details == "Bank: First Example Bank\nIBAN: DE89 3704 0044 0532 0130 00"
    assert org.email_signature == GOOD["email_signature"]
    assert set(changes) == {"name", "legal_name", "time_zone", "base_currency", "brand_color",
                            "remittance_details", "email_signature"}
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "workspace.settings_changed")).one()
    assert event.before["time_zone"] == "America/New_York" and event.after["time_zone"] == "Europe/Berlin"
    assert event.before["base_currency"] == "USD" and event.after["base_currency"] == "EUR"
    assert event.actor_id == controller.id


def test_saving_the_same_values_changes_nothing_and_audits_nothing(scoped, controller):
    settings.update_settings(db.session, scoped, controller, typed())
    assert settings.update_settings(db.session, scoped, controller, typed()) == {}
    assert len(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "workspace.settings_changed")).all()) == 1


def test_only_changed_fields_are_in_the_audit(scoped, controller):
    settings.update_settings(db.session, scoped, controller, typed())
    settings.update_settings(db.session, scoped, controller, typed(brand_color="#112233"))
    last = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "workspace.settings_changed")
                              .order_by(AuditEvent.id.desc())).first()
    assert last.before == {"brand_color": "#0f766e"} and last.after == {"brand_color": "#112233"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", " ", "Enter the workspace name"),
    ("name", "x" * 201, "under 200"),
    ("legal_name", "x" * 201, "under 200"),
    ("time_zone", "Mars/Olympus", "not a time zone name"),
    ("time_zone", "", "Choose the workspace's time zone"),
    ("time_zone", "europe/berlin", "not a time zone name"),
    ("base_currency", "XYZ", "not an ISO 4217 currency"),
    ("base_currency", "", "Choose the base currency"),
    ("base_currency", "€", "not an ISO 4217 currency"),
    ("brand_color", "red", "six hexadecimal digits"),
    ("brand_color", "#fff", "six hexadecimal digits"),
    ("brand_color", "#0f766e;}", "six hexadecimal digits"),
    ("remittance_details", "x" * 2001, "under 2,000"),
    ("email_signature", "x" * 1001, "under 1,000"),
    ("email_signature", "\n".join(["line"] * 13), "12 lines"),
    ("email_signature", "Regards {sender_name}", "cannot contain {"),
])
def test_each_rule_refuses_its_field_and_nothing_is_saved(scoped, controller, field, value, message):
    with pytest.raises(SettingsError) as refused:
        settings.update_settings(db.session, scoped, controller, typed(**{field: value}))
    assert refused.value.field == field and message in refused.value.errors[field]
    assert set(refused.value.errors) == {field}
    db.session.rollback()
    org = reload(scoped)
    assert org.time_zone == "America/New_York" and org.base_currency == "USD" and org.brand_color is None
    assert not db.session.scalars(select(AuditEvent)).all()


def test_every_refused_field_is_reported_at_once(scoped, controller):
    with pytest.raises(SettingsError) as refused:
        settings.update_settings(db.session, scoped, controller,
                                 typed(time_zone="Nowhere", base_currency="ZZZ", brand_color="blue"))
    assert set(refused.value.errors) == {"time_zone", "base_currency", "brand_color"}


def test_a_lower_case_currency_and_an_empty_colour_are_accepted(scoped, controller):
    settings.update_settings(db.session, scoped, controller, typed(base_currency="gbp", brand_color=""))
    org = reload(scoped)
    assert org.base_currency == "GBP" and org.brand_color is None


def test_a_png_or_jpeg_logo_is_stored_under_the_workspace_and_audited(scoped, controller, tmp_path):
    assert settings.store_logo(db.session, scoped, controller, PNG, tmp_path) is None  # nothing replaced
    path = scoped.logo_path
    assert path.startswith(f"logos/{scoped.id}/") and path.endswith(".png")
    assert (tmp_path / path).read_bytes() == PNG
    replaced = settings.store_logo(db.session, scoped, controller, JPEG, tmp_path)
    assert replaced == path and (tmp_path / path).exists()  # kept until the change is committed
    assert scoped.logo_path.endswith(".jpg")
    settings.discard_logo_file(tmp_path, replaced)
    assert not (tmp_path / path).exists()
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions == ["workspace.logo_changed", "workspace.logo_changed"]


def test_only_a_file_under_the_logos_folder_is_ever_discarded(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("keep")
    settings.discard_logo_file(tmp_path, "logos/../secret.txt")
    assert outside.exists()


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a" + b"\x00" * 64, "not a PNG or JPEG"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a PNG or JPEG"),
    (PNG + b"\x00" * settings.MAX_LOGO_BYTES, "larger than 512 KB"),
    (b"", "Choose a PNG or JPEG"),
])
def test_a_logo_is_checked_by_its_bytes_and_size(scoped, controller, tmp_path, data, message):
    with pytest.raises(settings.ActionError) as refused:
        settings.store_logo(db.session, scoped, controller, data, tmp_path)
    assert message in refused.value.message and refused.value.field == "logo"
    assert reload(scoped).logo_path is None and not (tmp_path / "logos").exists()


def test_removing_the_logo_returns_the_file_to_delete_and_is_audited(scoped, controller, tmp_path):
    settings.store_logo(db.session, scoped, controller, PNG, tmp_path)
    path = scoped.logo_path
    assert settings.remove_logo(db.session, scoped, controller) == path
    assert scoped.logo_path is None
    assert db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == \
        "workspace.logo_removed"
    with pytest.raises(settings.ActionError, match="no logo"):
        settings.remove_logo(db.session, scoped, controller)


def test_the_time_zone_list_puts_common_zones_first_and_holds_every_iana_name():
    zones = settings.time_zones()
    assert zones[0] == "UTC" and "Europe/Berlin" in zones[:20] and "Pacific/Chatham" in zones


# --- The page ------------------------------------------------------------------------------------------------

def test_the_controller_sees_the_page_and_the_navigation_link(client):
    page = client.get("/admin/workspace")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/admin/workspace"' in html and "Invoices keep their own currencies" in html
    assert 'list="time-zone-list"' in html and '<option value="Europe/Berlin">' in html


@pytest.mark.parametrize("role", [role for role in ROLES if role != "controller"])
def test_every_other_role_is_refused(client_as, role):
    member = client_as(role)
    assert member.get("/admin/workspace").status_code == 403
    assert member.post("/admin/workspace", data=GOOD).status_code == 403
    assert member.post("/admin/workspace/logo", data={"logo": (io.BytesIO(PNG), "logo.png")}).status_code == 403
    assert member.post("/admin/workspace/logo/remove").status_code == 403
    assert "/admin/workspace" not in member.get("/").get_data(as_text=True)


def test_saving_applies_the_settings_and_says_what_changed(client, org):
    response = client.post("/admin/workspace", data=GOOD)
    assert response.status_code == 303
    page = client.get("/admin/workspace").get_data(as_text=True)
    assert "Workspace settings saved" in page and "Europe/Berlin · EUR" in page
    assert "Accounts Receivable · +1 555 0100" in page
    assert reload(org).brand_color == "#0f766e"


def test_bad_input_shows_each_message_at_its_field_keeps_what_was_typed_and_saves_nothing(client, org):
    response = client.post("/admin/workspace", data={**GOOD, "time_zone": "Mars/Olympus", "brand_color": "teal"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="time_zone-error"' in html and "not a time zone name" in html
    assert 'id="brand_color-error"' in html and "six hexadecimal digits" in html
    assert 'value="Mars/Olympus"' in html and "Nothing was saved" in html
    org_now = reload(org)
    assert (org_now.name, org_now.time_zone, org_now.brand_color) == (org.name, "America/New_York", None)
    with tenant_scope(org.id):
        assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("workspace.%"))).all()


def test_a_logo_upload_is_checked_by_content_served_to_the_team_and_removable(app, client, org):
    refused = client.post("/admin/workspace/logo", data={"logo": (io.BytesIO(b"GIF89a....."), "logo.png")})
    assert refused.status_code == 422 and "not a PNG or JPEG" in refused.get_data(as_text=True)
    assert client.post("/admin/workspace/logo", data={"logo": (io.BytesIO(PNG), "logo.gif")}).status_code == 303
    stored = reload(org).logo_path
    assert (Path(app.config["UPLOAD_DIR"]) / stored).read_bytes() == PNG
    served = client.get("/admin/workspace/logo")
    assert served.status_code == 200 and served.mimetype == "image/png"
    removed = client.post("/admin/workspace/logo/remove", headers={"HX-Request": "true"})
    assert removed.status_code == 204 and removed.headers["HX-Redirect"] == "/admin/workspace"
    assert reload(org).logo_path is None and client.get("/admin/workspace/logo").status_code == 404


def test_settings_are_per_workspace(app, client, org):
    other = make_org(name="Other Co")
    other_controller = make_user(other, "controller")
    db.session.commit()
    sign_in(app.test_client(), other_controller).post("/admin/workspace", data={**GOOD, "name": "Other Renamed"})
    assert reload(org).name == org.name and reload(other).name == "Other Renamed"
    assert client.get("/admin/workspace").get_data(as_text=True).count("Other Renamed") == 0


def test_typed_names_lose_bidi_and_zero_width_characters(scoped, controller):
    settings.update_settings(db.session, scoped, controller,
                             typed(name="Acme\u200b Robotics", legal_name="\u202eAcme Robotics Inc.\u2069"))
    org = reload(scoped)
    assert (org.name, org.legal_name) == ("Acme Robotics", "Acme Robotics Inc.")
