"""Command-line tasks: `flask --app wsgi seed-demo`, `flask --app wsgi snapshots`."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from plixo.extensions import db


def register_cli(app: Flask) -> None:
    from plixo.imports.cli import import_csv_command
    from plixo.insights.cli import kpis_command
    from plixo.replies.cli import reply_examples_command

    app.cli.add_command(import_csv_command)
    app.cli.add_command(kpis_command)
    app.cli.add_command(reply_examples_command)

    @app.cli.command("seed-demo")
    @click.option("--invoices", default=3000, show_default=True,
                  help="How many invoices a year to bill (the 18 months of history hold about 1.6 times as many).")
    @click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same data.")
    @click.option("--if-empty", is_flag=True, help="Do nothing when a workspace already exists.")
    def seed_demo_command(invoices: int, seed: int, if_empty: bool) -> None:
        """Create the "Acme Robotics" demo workspace with one user per role."""
        from plixo.accounts.models import Organization
        from plixo.demo.seed import DEMO_PASSWORD, seed_demo

        if if_empty and db.session.scalar(select(func.count()).select_from(Organization)):
            click.echo("Database already has a workspace; demo data not added.")
            return
        if invoices < 1:
            raise click.BadParameter("must be at least 1", param_hint="--invoices")
        result = seed_demo(db.session, invoices=invoices, seed=seed)
        db.session.commit()
        click.echo(f"Demo workspace created: {result.customers} customers, {result.invoices} invoices, "
                   f"{result.payments} payments, {result.snapshots} daily snapshots.")
        click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
        for role, email, _name in result.logins:
            click.echo(f"  {role:<14} {email}")

    @app.cli.command("simulate")
    @click.option("--days", default=30, show_default=True, type=click.IntRange(1, 120), help="Simulated days.")
    @click.option("--invoices", default=500, show_default=True, type=click.IntRange(10, 200_000),
                  help="Invoices in the generated workspace.")
    @click.option("--seed", default=7, show_default=True, help="Random seed; the same seed replays the same month.")
    @click.option("--json", "as_json", is_flag=True, help="Print only the report, as one JSON line.")
    @click.option("--keep", is_flag=True, help="Keep the generated workspace instead of deleting it.")
    def simulate_command(days: int, invoices: int, seed: int, as_json: bool, keep: bool) -> None:
        """Run the Autopilot engine and sender over simulated time and check every e-mail against the rules.

        Exits with status 1 when any e-mail broke a rule, went twice or was lost.
        """
        import json

        from plixo.demo.simulation import simulate

        report = simulate(db.session, days=days, invoices=invoices, seed=seed, keep=keep).as_json()
        if not as_json:
            click.echo(f"{days} days, {invoices} invoices: {report['sent']} e-mails sent, "
                       f"{report['on_time']}/{report['eligible_touches']} on time, {report['crashes']} sender "
                       f"crashes, {report['flagged_for_review']} flagged for review.")
        click.echo(json.dumps(report, sort_keys=False))
        if report["violations"] or report["duplicates"] or report["lost"]:
            raise SystemExit(1)

    @app.cli.command("snapshots")
    def snapshots_command() -> None:
        """Take today's snapshot for every workspace now (the cron job does this hourly)."""
        from plixo.insights.snapshots import snapshot_every_workspace

        click.echo(f"Snapshots taken for {snapshot_every_workspace()} workspace(s).")
