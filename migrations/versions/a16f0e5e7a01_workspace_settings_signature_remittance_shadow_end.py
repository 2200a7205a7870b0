"""Workspace settings: remittance details and the default e-mail signature; a cadence's early end of Shadow

Revision ID: a16f0e5e7a01
Revises: a16f0e5e7a00
Create Date: 2026-12-07 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a01'
down_revision = 'a16f0e5e7a00'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remittance_details', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('email_signature', sa.Text(), nullable=True))

    with op.batch_alter_table('cadences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shadow_ended_early_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('shadow_end_reason', sa.Text(), nullable=True))

    # A cadence in Shadow whose start was never stamped counts its 14 days from its creation.
    op.execute("UPDATE cadences SET shadow_started_at = created_at "
               "WHERE status = 'shadow' AND shadow_started_at IS NULL")


def downgrade():
    with op.batch_alter_table('cadences', schema=None) as batch_op:
        batch_op.drop_column('shadow_end_reason')
        batch_op.drop_column('shadow_ended_early_at')

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('email_signature')
        batch_op.drop_column('remittance_details')
