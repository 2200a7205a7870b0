"""Messages can be correspondence about a dispute, which may reach the payer while the invoice is disputed

Revision ID: a16f0e5e7a06
Revises: a16f0e5e7a05
Create Date: 2026-12-07 22:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a06'
down_revision = 'a16f0e5e7a05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispute_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_dispute_id_disputes'), 'disputes', ['dispute_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_dispute_id_disputes'), type_='foreignkey')
        batch_op.drop_column('dispute_id')
