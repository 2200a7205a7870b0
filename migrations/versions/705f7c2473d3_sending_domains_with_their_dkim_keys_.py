"""Sending domains with their DKIM keys and DNS checks

Revision ID: 705f7c2473d3
Revises: fad11ae4f316
Create Date: 2026-12-03 13:12:40.685772

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '705f7c2473d3'
down_revision = 'fad11ae4f316'
branch_labels = None
depends_on = None

# Like every tenant table: row-level security with the strict workspace policy (see 5f1c2a7d9e30).
STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"


def upgrade():
    op.create_table('sending_domains',
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('dkim_selector', sa.String(length=63), nullable=False),
    sa.Column('dkim_private_key', sa.Text(), nullable=False),
    sa.Column('dkim_public_key', sa.Text(), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_sending_domains_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sending_domains')),
    sa.UniqueConstraint('org_id', 'domain', name=op.f('uq_sending_domains_org_id_domain'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE sending_domains ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE sending_domains FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON sending_domains USING ({STRICT_CHECK}) "
                   f"WITH CHECK ({STRICT_CHECK})")


def downgrade():
    op.drop_table('sending_domains')
