"""`flask snapshots`: today's snapshot of every workspace, taken now."""

from sqlalchemy import func, select

from plixo.extensions import db
from plixo.insights.models import DailySnapshot
from plixo.tenancy import tenant_scope
from tests.factories import make_org


def test_the_snapshots_command_snapshots_every_workspace_once(app):
    orgs = [make_org().id, make_org().id]
    db.session.commit()
    runner = app.test_cli_runner()
    first, again = runner.invoke(args=["snapshots"]), runner.invoke(args=["snapshots"])
    counts = []
    for org_id in orgs:
        with tenant_scope(org_id):
            counts.append(db.session.scalar(select(func.count()).select_from(DailySnapshot)))
    assert (first.output, again.output, counts) == (
        "Snapshots taken for 2 workspace(s).\n", "Snapshots taken for 2 workspace(s).\n", [1, 1],
    )
