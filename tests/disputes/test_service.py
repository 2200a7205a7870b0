"""Dispute intake: the invoice leaves outreach, evidence is checked by its content."""


import pytest

from plixo.actions import ActionError
from plixo.disputes import service as disputes
from plixo.extensions import db
from plixo.model import utcnow as now
from plixo.outreach import sends


def test_dispute_stops_the_invoice_and_cancels_its_scheduled_sends(scoped, controller, invoice, tmp_path):
    values = {"customer_name": "Globex", "invoice_number": invoice.number}
    message = sends.send_email(db.session, scoped, invoice, controller, "Invoice {invoice_number}",
                                 "Hello {customer_name}", values, invoice.customer.contacts[0], now())
    pdf = ("proof.pdf", b"%PDF-1.7 evidence")
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "Wrong rate", pdf, tmp_path,
                                   now())
    assert invoice.status == "disputed" and message.status == "cancelled"
    assert dispute.evidence[0].content_type == "application/pdf"
    assert not dispute.evidence[0].storage_path.startswith(str(tmp_path / "static"))


def test_evidence_type_is_checked_by_content_not_name(scoped, controller, invoice, tmp_path):
    with pytest.raises(ActionError, match="PDF, PNG or JPEG"):
        disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", ("x.pdf", b"MZ\x90 not a pdf"),
                             tmp_path, now())
    assert invoice.status == "open"


def test_dispute_needs_a_known_reason(scoped, controller, invoice, tmp_path):
    with pytest.raises(ActionError):
        disputes.open_dispute(db.session, scoped, invoice, controller, "because", "", None, tmp_path, now())


@pytest.mark.parametrize(("uploaded", "kept"), [
    ("invoice.pdf.exe", "invoice.pdf.pdf"), ("scan.PNG", "scan.pdf"), ("..", "evidence.pdf"), ("proof", "proof.pdf"),
])
def test_evidence_is_kept_under_the_extension_its_content_shows(scoped, controller, invoice, tmp_path, uploaded,
                                                                 kept):
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", (uploaded, b"%PDF-1.7 x"),
                                    tmp_path, now())
    assert dispute.evidence[0].filename == kept and dispute.evidence[0].storage_path.endswith(".pdf")
