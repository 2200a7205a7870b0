"""Import issues, run summaries and workspace slugs

Revision ID: 8475f967c7e1
Revises: bb4f6ec2438f
Create Date: 2026-11-22 08:43:01.604274

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8475f967c7e1'
down_revision = 'bb4f6ec2438f'
branch_labels = None
depends_on = None

# Same rule as the row-level security migration (bb4f6ec2438f).
WORKSPACE_CHECK = (
    "coalesce(current_setting('plixo.workspace', true), '') = '' "
    "OR org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
)


def upgrade():
    op.create_table('import_issues',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('suggestion', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_import_issues_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['import_runs.id'], name=op.f('fk_import_issues_run_id_import_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_issues'))
    )
    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.create_index('ix_import_issues_org_run', ['org_id', 'run_id', 'severity', 'line'], unique=False)

    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('header_signature', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('summary', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_import_runs_org_signature', ['org_id', 'kind', 'header_signature'], unique=False)

    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.alter_column('summary', server_default=None)

    # Existing workspaces get a slug from their id; it can be renamed in settings.
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slug', sa.String(length=80), nullable=True))
    op.execute("UPDATE organizations SET slug = 'workspace-' || id WHERE slug IS NULL")
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.alter_column('slug', existing_type=sa.String(length=80), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_organizations_slug'), ['slug'])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE import_issues ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE import_issues FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON import_issues USING ({WORKSPACE_CHECK}) "
                   f"WITH CHECK ({WORKSPACE_CHECK})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS workspace_isolation ON import_issues")
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organizations_slug'), type_='unique')
        batch_op.drop_column('slug')

    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_import_runs_org_signature')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('summary')
        batch_op.drop_column('header_signature')

    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.drop_index('ix_import_issues_org_run')

    op.drop_table('import_issues')
