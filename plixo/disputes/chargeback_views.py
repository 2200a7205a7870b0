"""A chargeback's evidence sent to Stripe from the dispute inspector: the answer is the inspector again, with the
refusal (Stripe's own reason among them) above it when nothing was sent."""

from __future__ import annotations

from flask import Blueprint, g
from flask_login import current_user

from plixo.disputes.chargeback import EvidencePlan, chargeback_panel, submit_chargeback_evidence
from plixo.disputes.evidence import evidence_dir
from plixo.disputes.models import Dispute
from plixo.disputes.views import inspector_answer
from plixo.extensions import db
from plixo.htmx import change
from plixo.model import utcnow
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("chargebacks", __name__, url_prefix="/work")


@bp.app_template_global("chargeback_panel")
def panel_of(dispute: Dispute):
    """The inspector's chargeback panel for `dispute` (None unless it is a Stripe chargeback)."""
    return chargeback_panel(db.session, dispute, utcnow())


def _sent(plan: EvidencePlan) -> str:
    files = len(plan.files)
    message = f"Evidence sent to Stripe: {files} file{'' if files == 1 else 's'}. The outcome will follow."
    if plan.left_out:
        message += f" {len(plan.left_out)} file(s) had no field left and were not sent."
    return message


@bp.post("/disputes/<int:dispute_id>/chargeback-evidence")
@requires("disputes.manage")
def submit_evidence(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    return change(lambda: submit_chargeback_evidence(db.session, g.org, dispute, current_user, evidence_dir(),
                                                     utcnow()),
                  lambda plan: inspector_answer(dispute, _sent(plan)),
                  lambda error: inspector_answer(dispute, error.message, "error", 422, error=error))
