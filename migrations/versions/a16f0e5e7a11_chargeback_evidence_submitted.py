"""A chargeback remembers when its evidence went to Stripe, which takes it once

Revision ID: a16f0e5e7a11
Revises: a16f0e5e7a06
Create Date: 2026-12-07 22:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a11'
down_revision = 'a16f0e5e7a06'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_submitted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_column('evidence_submitted_at')
