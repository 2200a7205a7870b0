"""Admin → Deliverability: sending domains, the records to publish, and live DNS checks."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from plixo.extensions import db
from plixo.mail.deliverability import (
    DeliverabilityError,
    add_domain,
    check_domain,
    records_to_publish,
    resolver_from_config,
)
from plixo.mail.models import SendingDomain
from plixo.model import utcnow
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("mail", __name__, url_prefix="/admin/deliverability")


@bp.route("")
@requires("connectors.manage")
def deliverability():
    domains = db.session.scalars(select(SendingDomain).where(SendingDomain.org_id == g.org.id)
                                 .order_by(SendingDomain.domain)).all()
    return render_template("mail/deliverability.html", domains=[(d, records_to_publish(d)) for d in domains],
                           typed=request.args.get("domain", ""))


@bp.route("/domains", methods=["POST"])
@requires("connectors.manage")
def add_sending_domain():
    typed = request.form.get("domain", "")
    try:
        sending = add_domain(db.session, g.org, current_user, typed, utcnow())
    except DeliverabilityError as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("mail.deliverability", domain=typed[:253]))
    db.session.commit()
    flash(f"{sending.domain} added. Publish the three records below, then check them.", "success")
    return redirect(url_for("mail.deliverability") + f"#domain-{sending.id}")


@bp.route("/domains/<int:sending_domain_id>/check", methods=["POST"])
@requires("connectors.manage")
def check_sending_domain(sending_domain_id: int):
    sending = get_or_404(db.session, SendingDomain, sending_domain_id)
    try:
        check_domain(db.session, g.org, current_user, sending, resolver_from_config(), utcnow())
    except DeliverabilityError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        db.session.commit()
        flash(f"{sending.domain}: " + ("ready for Autopilot." if sending.ready_for_autopilot
                                       else "some records are not right yet."),
              "success" if sending.ready_for_autopilot else "warning")
    return redirect(url_for("mail.deliverability") + f"#domain-{sending.id}")
