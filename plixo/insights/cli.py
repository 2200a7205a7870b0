"""`flask --app wsgi kpis --org SLUG [--as-of YYYY-MM-DD] [--json]`: the console's headline figures for a day, in
the workspace's base currency. With --json the last line is one JSON object (amounts in base minor units)."""

from __future__ import annotations

import datetime as dt
import json

import click
from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.insights.export import kpi_line
from plixo.insights.figures import figures
from plixo.ledger.aging import local_today
from plixo.money import format_money
from plixo.tenancy import tenant_scope, unscoped


@click.command("kpis")
@click.option("--org", "org_slug", required=True, help="Workspace slug.")
@click.option("--as-of", "as_of", default="", help="The day (YYYY-MM-DD, workspace time zone); default today.")
@click.option("--period", "period_days", default=30, type=click.IntRange(1, 366),
              help="Days of cash collected, ending on the day (default 30).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line.")
def kpis_command(org_slug: str, as_of: str, period_days: int, as_json: bool) -> None:
    """Print the workspace's console figures."""
    with unscoped():
        org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise click.ClickException(f"No workspace with the slug {org_slug!r}.")
    today = local_today(org.time_zone)
    day = _day(as_of, today)
    with tenant_scope(org.id):
        line = kpi_line(figures(db.session, org, day, today, period_days).as_dict())
    for name in ("open_ar_minor", "cash_collected_minor", "disputed_minor", "promises_at_risk_minor"):
        click.echo(f"{name.removesuffix('_minor').replace('_', ' '):<22} {format_money(line[name], org.base_currency)}")
    for name in ("dso_countback_days", "dso_standard_days", "bpdso_days", "add_days", "cei_percent",
                 "promise_kept_rate"):
        click.echo(f"{name.replace('_', ' '):<22} {'—' if line[name] is None else line[name]}")
    if line["not_converted"]:
        click.echo(f"not converted (no rate): {json.dumps(line['not_converted'])}")
    if as_json:
        click.echo(json.dumps(line))


def _day(text: str, today: dt.date) -> dt.date:
    if not text:
        return today
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-11-30", param_hint="--as-of") from None
    if day > today:
        raise click.BadParameter(f"{day} is after today ({today}) in the workspace's time zone", param_hint="--as-of")
    return day
