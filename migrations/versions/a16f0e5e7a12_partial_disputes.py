"""A dispute may contest part of an invoice: the disputed amount (none: all of it)

Revision ID: a16f0e5e7a12
Revises: a16f0e5e7a11
Create Date: 2026-12-07 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a12'
down_revision = 'a16f0e5e7a11'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disputed_minor', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_column('disputed_minor')
