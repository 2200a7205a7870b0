"""Dispute evidence: files checked by their content (PDF, PNG, JPEG), kept under UPLOAD_DIR outside the web root."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError, Actor, user_id
from plixo.disputes.models import Dispute, DisputeEvidence

EVIDENCE_TYPES = {b"%PDF-": ("application/pdf", ".pdf"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
                  b"\xff\xd8\xff": ("image/jpeg", ".jpg")}
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


def evidence_dir() -> Path:
    """Where dispute evidence is kept: under UPLOAD_DIR, outside the web root (never served as static)."""
    return Path(current_app.config["UPLOAD_DIR"]) / "evidence"


def checked_evidence(evidence: tuple[str, bytes]) -> tuple[str, str]:
    """The (content type, suffix) of an evidence file, told by its first bytes; ActionError for anything else."""
    _name, data = evidence
    if not data:
        raise ActionError("The evidence file is empty.", "evidence")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ActionError(f"Evidence files can be at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB.", "evidence")
    for magic, kind in EVIDENCE_TYPES.items():
        if data.startswith(magic):
            return kind
    raise ActionError("Evidence must be a PDF, PNG or JPEG file.", "evidence")


def evidence_name(filename: str | None, suffix: str) -> str:
    """The name an evidence file is kept and downloaded under: the uploaded stem, with the extension of the type its
    bytes showed ("invoice.pdf.exe" holding a PDF becomes "invoice.pdf.pdf", never an .exe)."""
    stem = re.sub(r"[^\w.\- ]", "_", Path(filename or "evidence").name)
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    return (stem.strip(" .")[:190] or "evidence") + suffix


def store_evidence(session: Session, org: Organization, dispute: Dispute, actor: Actor, filename: str, data: bytes,
                   kind: tuple[str, str], root: Path, now: dt.datetime, slot: str = "other") -> None:
    """Keep a checked file under `root`/<workspace> with a random name, and record it on the dispute."""
    content_type, suffix = kind
    digest = hashlib.sha256(data).hexdigest()
    folder = root / str(org.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    safe_name = evidence_name(filename, suffix)
    session.add(DisputeEvidence(org_id=org.id, dispute_id=dispute.id, slot=slot, filename=safe_name,
                                content_type=content_type,
                                size_bytes=len(data), sha256=digest, storage_path=str(path),
                                uploaded_by_id=user_id(actor), uploaded_at=now))
    session.flush()


SLOTS = {"proof_of_delivery": "Proof of delivery", "signed_po": "Signed purchase order",
         "contract": "Contract or price agreement", "correspondence": "Correspondence",
         "payment_proof": "Proof of payment", "credit_note": "Credit note", "other": "Other"}
# What usually settles a dispute of each reason: the inspector shows these slots as filled or still missing.
SLOTS_BY_REASON = {
    "pricing": ("contract", "signed_po", "correspondence"), "quantity": ("proof_of_delivery", "signed_po"),
    "quality": ("proof_of_delivery", "correspondence"), "not_received": ("proof_of_delivery",),
    "duplicate": ("payment_proof", "correspondence"), "po_mismatch": ("signed_po", "correspondence"),
    "not_rendered": ("contract", "correspondence"), "already_paid": ("payment_proof",),
    "contract": ("contract", "correspondence"),
}


def slots_for(reason: str) -> tuple[str, ...]:
    return SLOTS_BY_REASON.get(reason, ("correspondence",))


def add_evidence(session: Session, org: Organization, dispute: Dispute, actor: Actor, slot: str,
                 upload: tuple[str, bytes] | None, root: Path, now: dt.datetime) -> None:
    """Attach a file to one of the dispute's evidence slots (checked by its content, as at intake)."""
    if slot not in SLOTS:
        raise ActionError("Choose what the file shows.", "slot")
    if upload is None or not upload[1]:
        raise ActionError("Choose a PDF, PNG or JPEG file to upload.", "evidence")
    kind = checked_evidence(upload)
    store_evidence(session, org, dispute, actor, upload[0], upload[1], kind, root, now, slot=slot)
    audit.record(session, org_id=org.id, actor=actor, action="disputes.evidence_added", subject=dispute,
                 after={"slot": slot, "filename": evidence_name(upload[0], kind[1])})
