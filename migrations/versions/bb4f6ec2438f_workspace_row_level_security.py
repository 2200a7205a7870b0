"""Workspace row-level security on PostgreSQL

Revision ID: bb4f6ec2438f
Revises: cbe8d377d76d
Create Date: 2026-11-22 08:33:14.508469

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'bb4f6ec2438f'
down_revision = 'cbe8d377d76d'
branch_labels = None
depends_on = None


# Every tenant-owned table. A new one gets its policy in its own migration (a test checks they all have it).
TENANT_TABLES = (
    "approvals", "audit_events", "cadence_steps", "cadences", "connections", "contacts", "customers",
    "daily_snapshots", "dispute_evidence", "disputes", "holds", "import_runs", "invites", "invoices",
    "memberships", "message_invoices", "messages", "note_mentions", "notes", "payment_applications",
    "payment_plan_invoices", "payment_plans", "payments", "plan_installments", "policies", "promises", "segments",
)

# The app sets plixo.workspace for each transaction: a workspace id, "0" when no workspace may be touched,
# or empty for system code working across workspaces (and for tools that never set it).
WORKSPACE_CHECK = (
    "coalesce(current_setting('plixo.workspace', true), '') = '' "
    "OR org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite (development) has no row-level security; the ORM guard still applies
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")  # the owning role too
        op.execute(f"CREATE POLICY workspace_isolation ON {table} USING ({WORKSPACE_CHECK}) "
                   f"WITH CHECK ({WORKSPACE_CHECK})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS workspace_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
