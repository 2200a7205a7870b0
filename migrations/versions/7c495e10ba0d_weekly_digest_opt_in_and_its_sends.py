"""Weekly digest: each member's opt-in, and one row per member and ISO week that the digest's sender claims

Revision ID: 7c495e10ba0d
Revises: a16f0e5e7a14
Create Date: 2026-12-09 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c495e10ba0d'
down_revision = 'a16f0e5e7a14'
branch_labels = None
depends_on = None

STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"


def _isolate(table):
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON {table} USING ({STRICT_CHECK}) WITH CHECK ({STRICT_CHECK})")


def upgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekly_digest', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('weekly_digests',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id_header', sa.String(length=255), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_weekly_digests_org_id_organizations'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_weekly_digests_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_digests')),
    sa.UniqueConstraint('org_id', 'user_id', 'week', name=op.f('uq_weekly_digests_org_id_user_id_week'))
    )
    with op.batch_alter_table('weekly_digests', schema=None) as batch_op:
        batch_op.create_index('ix_weekly_digests_org_status_scheduled', ['org_id', 'status', 'scheduled_for'],
                              unique=False)
    _isolate('weekly_digests')


def downgrade():
    with op.batch_alter_table('weekly_digests', schema=None) as batch_op:
        batch_op.drop_index('ix_weekly_digests_org_status_scheduled')
    op.drop_table('weekly_digests')

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('weekly_digest')
