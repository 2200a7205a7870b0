"""Admin → Workspace settings: the workspace's name, legal name, time zone, base currency, branding, remittance
details and default e-mail signature, each checked before anything is saved, every change audited.

Bad input is refused as a whole: `update_settings` checks every field first and raises SettingsError carrying
one message per field it refuses, so nothing is saved and the page can show each message at its field. The logo
is a PNG or JPEG recognised by its first bytes (never by its name), kept under UPLOAD_DIR/logos/ with a name
Plixo chooses; the payer portal serves it through its own route.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError, Actor
from plixo.money import ISO_CURRENCIES
from plixo.values import typed_name

MAX_NAME = 200
MAX_REMITTANCE = 2_000
MAX_SIGNATURE = 1_000
MAX_SIGNATURE_LINES = 12
MAX_LOGO_BYTES = 512 * 1024
LOGO_DIR = "logos"
# First bytes of the image types a logo may be: (extension, media type).
LOGO_MAGIC = {b"\x89PNG\r\n\x1a\n": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg")}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# What each setting reaches, shown next to it on the page.
EFFECTS = {
    "name": "Shown in the app and at the top of the payer portal; Autopilot's e-mails are sent in this name.",
    "legal_name": "The registered name, for remittance and legal correspondence. Leave empty to use the name.",
    "time_zone": "Aging, “today”, the home page's day and every time shown in Plixo follow this zone; so do "
                 "quiet hours for customers without a zone of their own.",
    "base_currency": "Invoices keep their own currencies; the base currency is used for totals, rankings and the "
                     "policy's amounts (check the approval thresholds in Policies after changing it). Exchange "
                     "rates convert into it: after a change, enter rates into the new one.",
    "brand_color": "The accent colour of the payer portal (buttons and links).",
    "remittance_details": "Shown in the payer portal: how to pay by bank transfer. While Stripe is not connected "
                          "it is the only way to pay shown there.",
    "email_signature": "Signs the e-mails people and Autopilot send, below the sender's name "
                       "(the {signature} merge field).",
}
FIELD_LABELS = {"name": "Workspace name", "legal_name": "Legal name", "time_zone": "Time zone",
                "base_currency": "Base currency", "brand_color": "Brand colour",
                "remittance_details": "Remittance details", "email_signature": "Default signature"}
# Offered first in the time-zone list; any IANA zone name is accepted.
COMMON_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
                "America/Toronto", "America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Paris",
                "Europe/Berlin", "Europe/Amsterdam", "Europe/Madrid", "Europe/Zurich", "Asia/Dubai", "Asia/Kolkata",
                "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland")


class SettingsError(ActionError):
    """Settings refused: `errors` holds one message per refused field (the first is the error's own)."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field)
        self.errors = errors


@dataclass(frozen=True)
class SettingsInput:
    """The settings as typed on the page."""

    name: str = ""
    legal_name: str = ""
    time_zone: str = ""
    base_currency: str = ""
    brand_color: str = ""
    remittance_details: str = ""
    email_signature: str = ""


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name a workspace may use: the common ones first, then the rest alphabetically."""
    named = sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith(("Etc/", "SystemV/")))
    return COMMON_ZONES + tuple(tz for tz in named if tz not in COMMON_ZONES)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(tz for tz in available_timezones() if not tz.startswith(("SystemV/", "posix/", "right/")))


def settings_of(org: Organization) -> SettingsInput:
    """The workspace's current settings, as the page's fields show them."""
    return SettingsInput(org.name, org.legal_name or "", org.time_zone, org.base_currency, org.brand_color or "",
                         org.remittance_details or "", org.email_signature or "")


def _text(value: str) -> str:
    # Multi-line text: line endings made plain, trailing spaces and blank edges dropped.
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n").strip()


def checked_settings(typed: SettingsInput) -> dict[str, str | None]:
    """The settings to store, normalised; SettingsError naming every refused field."""
    errors: dict[str, str] = {}
    name = typed_name(typed.name)
    if len(name) < 2:
        errors["name"] = "Enter the workspace name (at least 2 characters)."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Keep the workspace name under {MAX_NAME} characters."
    legal_name = typed_name(typed.legal_name)
    if len(legal_name) > MAX_NAME:
        errors["legal_name"] = f"Keep the legal name under {MAX_NAME} characters."
    zone = typed.time_zone.strip()
    if zone not in _zone_names():
        errors["time_zone"] = (f"“{zone}” is not a time zone name. Use an IANA name such as Europe/Berlin or "
                               "America/New_York." if zone else "Choose the workspace's time zone.")
    currency = typed.base_currency.strip().upper()
    if currency not in ISO_CURRENCIES:
        errors["base_currency"] = (f"“{typed.base_currency.strip()}” is not an ISO 4217 currency code. Use three "
                                   "letters such as USD, EUR or GBP." if currency else "Choose the base currency.")
    color = typed.brand_color.strip()
    if color and not _COLOR.match(color):
        errors["brand_color"] = "Write the colour as # and six hexadecimal digits, such as #0f766e."
    remittance = _text(typed.remittance_details)
    if len(remittance) > MAX_REMITTANCE:
        errors["remittance_details"] = f"Keep the remittance details under {MAX_REMITTANCE:,} characters."
    signature = _text(typed.email_signature)
    if len(signature) > MAX_SIGNATURE:
        errors["email_signature"] = f"Keep the signature under {MAX_SIGNATURE:,} characters."
    elif signature.count("\n") >= MAX_SIGNATURE_LINES:
        errors["email_signature"] = f"Keep the signature to {MAX_SIGNATURE_LINES} lines at most."
    elif "{" in signature or "}" in signature:
        errors["email_signature"] = "The signature cannot contain { or }: merge fields are not filled in it."
    if errors:
        raise SettingsError(errors)
    return {"name": name, "legal_name": legal_name or None, "time_zone": zone, "base_currency": currency,
            "brand_color": color.lower() or None, "remittance_details": remittance or None,
            "email_signature": signature or None}


def update_settings(session: Session, org: Organization, actor: Actor, typed: SettingsInput) -> dict[str, tuple]:
    """Check every field, then save what changed and audit it with before and after; returns field → (before,
    after). Refused (SettingsError) before anything is changed."""
    values = checked_settings(typed)
    changes = {name: (getattr(org, name), value) for name, value in values.items() if getattr(org, name) != value}
    if not changes:
        return {}
    for name, (_before, after) in changes.items():
        setattr(org, name, after)
    audit.record(session, org_id=org.id, actor=actor, action="workspace.settings_changed", subject=org,
                 before={name: before for name, (before, _after) in changes.items()},
                 after={name: after for name, (_before, after) in changes.items()})
    session.flush()
    return changes


def logo_kind(data: bytes) -> tuple[str, str] | None:
    """(extension, media type) when `data` starts like a PNG or a JPEG, else None."""
    return next((kind for magic, kind in LOGO_MAGIC.items() if data.startswith(magic)), None)


def store_logo(session: Session, org: Organization, actor: Actor, data: bytes, upload_dir: Path) -> str:
    """Keep an uploaded logo (checked by its bytes and size) as the workspace's; the old file is removed.
    Returns its path under `upload_dir`."""
    if not data:
        raise ActionError("Choose a PNG or JPEG file to upload.", "logo")
    if len(data) > MAX_LOGO_BYTES:
        raise ActionError(f"The logo is larger than {MAX_LOGO_BYTES // 1024} KB. Upload a smaller PNG or JPEG.",
                          "logo")
    kind = logo_kind(data)
    if kind is None:
        raise ActionError("That file is not a PNG or JPEG image. Upload the logo as PNG or JPEG.", "logo")
    folder = upload_dir / LOGO_DIR / str(org.id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"logo-{secrets.token_hex(8)}.{kind[0]}"
    (folder / name).write_bytes(data)
    before = org.logo_path
    org.logo_path = f"{LOGO_DIR}/{org.id}/{name}"
    audit.record(session, org_id=org.id, actor=actor, action="workspace.logo_changed", subject=org,
                 before={"logo_path": before}, after={"logo_path": org.logo_path, "bytes": len(data),
                                                      "type": kind[1]})
    session.flush()
    return before  # the replaced file: deleted once the change is committed (discard_logo_file)


def remove_logo(session: Session, org: Organization, actor: Actor) -> str:
    """The workspace goes back to its name alone in the portal; returns the file, to delete once committed."""
    if not org.logo_path:
        raise ActionError("There is no logo to remove.", "logo")
    before = org.logo_path
    org.logo_path = None
    audit.record(session, org_id=org.id, actor=actor, action="workspace.logo_removed", subject=org,
                 before={"logo_path": before}, after={"logo_path": None})
    session.flush()
    return before


def discard_logo_file(upload_dir: Path, relative: str | None) -> None:
    """Delete a logo file no longer used, after the change that let go of it is committed (a rolled-back change
    must find its file still there). Only a file under the upload folder's logos/ is ever deleted."""
    if not relative:
        return
    root = (upload_dir / LOGO_DIR).resolve()
    path = (upload_dir / relative).resolve()
    if path.is_relative_to(root) and path.is_file():
        path.unlink()
