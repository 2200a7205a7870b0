"""The workspace home."""

from flask import Blueprint, g, render_template

from plixo.extensions import db
from plixo.insights.service import home_figures
from plixo.security import requires

bp = Blueprint("insights", __name__)


@bp.route("/")
@requires("workspace.view")
def home():
    return render_template("insights/home.html", figures=home_figures(db.session, g.org))
