"""Messages remember the teammate who suggested a draft for a collector's review

Revision ID: a16f0e5e7a02
Revises: a16f0e5e7a01
Create Date: 2026-12-07 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a02'
down_revision = 'a16f0e5e7a01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_suggested_by_id_users'), 'users', ['suggested_by_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_suggested_by_id_users'), type_='foreignkey')
        batch_op.drop_column('suggested_by_id')
