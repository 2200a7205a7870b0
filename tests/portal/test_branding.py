"""The portal wears the workspace's name, colour and logo, within the CSP (no inline styles)."""

from __future__ import annotations

from pathlib import Path

from plixo.accounts.models import Organization
from plixo.extensions import db


def brand(org, **values) -> None:
    stored = db.session.get(Organization, org.id)
    for name, value in values.items():
        setattr(stored, name, value)
    db.session.commit()


def test_the_page_is_branded_with_the_workspace_name(payer, org):
    assert f'<span class="portal-org">{org.name}</span>' in payer.get("/portal").get_data(as_text=True)


def test_the_brand_colour_comes_from_a_stylesheet(payer, org):
    brand(org, brand_color="#0f766e")
    page = payer.get("/portal").get_data(as_text=True)
    assert 'href="/portal/brand.css"' in page and "#0f766e" not in page
    css = payer.get("/portal/brand.css")
    assert css.mimetype == "text/css" and "--portal-accent: #0f766e" in css.get_data(as_text=True)


def test_a_malformed_colour_is_never_written_out(payer, org):
    brand(org, brand_color="#fff;}")
    assert 'href="/portal/brand.css"' not in payer.get("/portal").get_data(as_text=True)
    assert payer.get("/portal/brand.css").get_data(as_text=True) == ""


def test_the_logo_is_shown_when_it_is_an_image_under_the_upload_folder(app, payer, org):
    logo = Path(app.config["UPLOAD_DIR"]) / "logos" / f"{org.id}.png"
    logo.parent.mkdir(parents=True, exist_ok=True)
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    brand(org, logo_path=f"logos/{org.id}.png")
    assert 'src="/portal/logo"' in payer.get("/portal").get_data(as_text=True)
    response = payer.get("/portal/logo")
    assert response.status_code == 200 and response.mimetype == "image/png"


def test_no_logo_means_no_image(payer):
    assert payer.get("/portal/logo").status_code == 404
    assert 'src="/portal/logo"' not in payer.get("/portal").get_data(as_text=True)
