"""Approvals record whether a teammate or the payer (portal) asked

Revision ID: 54d8844c9e7f
Revises: ecf118fb280b
Create Date: 2026-12-03 12:28:51.153714

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '54d8844c9e7f'
down_revision = 'ecf118fb280b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=20), server_default='operator', nullable=False))



def downgrade():
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_column('source')

