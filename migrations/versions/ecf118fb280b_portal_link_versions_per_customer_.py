"""Portal link versions per customer; restricted-key accounts keep their own webhook secret

Revision ID: ecf118fb280b
Revises: 6e2783ae849c
Create Date: 2026-12-03 11:44:25.286317

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ecf118fb280b'
down_revision = '6e2783ae849c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('stripe_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_secret', sa.Text(), nullable=True))



def downgrade():
    with op.batch_alter_table('stripe_accounts', schema=None) as batch_op:
        batch_op.drop_column('webhook_secret')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('portal_version')

