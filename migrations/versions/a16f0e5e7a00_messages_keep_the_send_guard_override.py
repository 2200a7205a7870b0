"""Messages keep the reason a person gave for sending inside the customer's contact limits

Revision ID: a16f0e5e7a00
Revises: cc74c75c8918
Create Date: 2026-12-07 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a00'
down_revision = 'cc74c75c8918'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guard_override', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('guard_override')
