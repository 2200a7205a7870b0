"""Admin → Deliverability: sending domains, the records to publish, and live DNS checks."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.extensions import db
from plixo.htmx import change
from plixo.mail.deliverability import (
    DeliverabilityError,
    add_domain,
    check_domain,
    records_to_publish,
    resolver_from_config,
)
from plixo.mail.models import SendingDomain
from plixo.mail.sending import bounce_stats, daily_history, end_warmup, ramp, warm
from plixo.model import utcnow
from plixo.outreach.planner import daily_cap
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("mail", __name__, url_prefix="/admin/deliverability")


@bp.route("")
@requires("connectors.manage")
def deliverability():
    domains = db.session.scalars(select(SendingDomain).where(SendingDomain.org_id == g.org.id)
                                 .order_by(SendingDomain.domain)).all()
    policy_cap = daily_cap(db.session.scalar(select(Policy)))
    now = utcnow()
    return render_template("mail/deliverability.html", typed=request.args.get("domain", ""), policy_cap=policy_cap,
                           confirm_skip=request.args.get("confirm_skip", type=int),
                           domains=[(d, records_to_publish(d), _health(d, policy_cap, now)) for d in domains])


def _health(sending: SendingDomain, policy_cap: int, now) -> dict:
    """The domain's sending figures: 30-day bounces, the warmup ramp, and the daily history for the charts."""
    history = daily_history(db.session, g.org.id, sending.domain, now, g.org.time_zone)
    return {
        "stats": bounce_stats(db.session, g.org.id, sending.domain, now),
        "ramp": ramp(sending, policy_cap), "warm": warm(sending, policy_cap),
        "chart": {"labels": [day.strftime("%d %b") for day, _sent, _bounced in history],
                  "sent": [sent for _day, sent, _bounced in history],
                  "bounce_rate": [round(100 * bounced / sent, 1) if sent else None
                                  for _day, sent, bounced in history]},
        "history": history,
    }


@bp.route("/domains/<int:sending_domain_id>/warmup", methods=["POST"])
@requires("connectors.manage")
def skip_warmup(sending_domain_id: int):
    sending = get_or_404(db.session, SendingDomain, sending_domain_id)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("mail.deliverability", confirm_skip=sending.id) + f"#domain-{sending.id}")
    end_warmup(db.session, g.org, current_user, sending, daily_cap(db.session.scalar(select(Policy))))
    db.session.commit()
    flash(f"{sending.domain} now sends up to the policy's daily cap.", "success")
    return _at_domain(sending)


@bp.route("/domains", methods=["POST"])
@requires("connectors.manage")
def add_sending_domain():
    typed = request.form.get("domain", "")

    def added(sending: SendingDomain):
        flash(f"{sending.domain} added. Publish the three records below (SPF, DKIM and DMARC) at your DNS provider, "
              "then check them.", "success")
        return _at_domain(sending)

    def refused(error: DeliverabilityError):
        flash(error.message, "error")
        return redirect(url_for("mail.deliverability", domain=typed[:253]))

    return change(lambda: add_domain(db.session, g.org, current_user, typed, utcnow()), added, refused)


@bp.route("/domains/<int:sending_domain_id>/check", methods=["POST"])
@requires("connectors.manage")
def check_sending_domain(sending_domain_id: int):
    sending = get_or_404(db.session, SendingDomain, sending_domain_id)

    def checked(_result):
        flash(f"{sending.domain}: " + ("ready for Autopilot." if sending.ready_for_autopilot
                                       else "some records are not right yet."),
              "success" if sending.ready_for_autopilot else "warning")
        return _at_domain(sending)

    def refused(error: DeliverabilityError):
        flash(error.message, "error")
        return _at_domain(sending)

    return change(lambda: check_domain(db.session, g.org, current_user, sending, resolver_from_config(), utcnow()),
                  checked, refused)


def _at_domain(sending: SendingDomain):
    return redirect(url_for("mail.deliverability") + f"#domain-{sending.id}")
