"""The workspace home."""

from flask import Blueprint, g, render_template
from flask_login import current_user

from plixo.accounts.notifications import unread_notifications
from plixo.extensions import db
from plixo.insights.service import home_figures
from plixo.payments.connector import stripe_connection, stripe_status
from plixo.security import requires

bp = Blueprint("insights", __name__)


@bp.route("/")
@requires("workspace.view")
def home():
    return render_template("insights/home.html", figures=home_figures(db.session, g.org),
                           stripe=stripe_status(stripe_connection(db.session, g.org.id)),
                           notifications=unread_notifications(db.session, g.org.id, current_user.id))
