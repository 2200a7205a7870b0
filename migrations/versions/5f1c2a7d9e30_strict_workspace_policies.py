"""Strict workspace policies on the operational tables

A policy of the form `<all workspaces> OR org_id = <setting>` made PostgreSQL count the workspace filter twice
(once from the query, once from the policy), so a workspace holding a tenth of a table was estimated at a
hundredth of its rows and large workspaces got nested-loop plans (the queue page took 450 ms instead of 2 ms).
A plain equality joins the query's own `org_id = <id>` in one equivalence class: the estimate is exact and
the policy costs a single check per statement. System code that reads across workspaces keeps the wider policy
on the few tables it needs (sign-in, invites, job rows); everything else is reached one workspace at a time.

Revision ID: 5f1c2a7d9e30
Revises: 63e719a1e979
Create Date: 2026-12-02 17:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5f1c2a7d9e30'
down_revision = '63e719a1e979'
branch_labels = None
depends_on = None

# Tables system code reads across workspaces: a sign-in finds the user's memberships, an invite link finds its
# invite, a job finds its row. They keep the policy that lets an empty setting see every workspace.
SYSTEM_READABLE = ("memberships", "invites", "import_runs")  # plixo.tenancy.SYSTEM_READABLE_TABLES

STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
WIDE_CHECK = (
    "coalesce(current_setting('plixo.workspace', true), '') = '' "
    "OR org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
)


def _tables_with_policy() -> list[str]:
    rows = op.get_bind().exec_driver_sql(
        "SELECT tablename FROM pg_policies WHERE policyname = 'workspace_isolation' ORDER BY tablename")
    return [row[0] for row in rows if row[0] not in SYSTEM_READABLE]


def _set_policies(check: str) -> None:
    for table in _tables_with_policy():
        op.execute(f"ALTER POLICY workspace_isolation ON {table} USING ({check}) WITH CHECK ({check})")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _set_policies(STRICT_CHECK)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _set_policies(WIDE_CHECK)
