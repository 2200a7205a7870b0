"""Cadence steps on message invoices, reply time on messages

Revision ID: 63e719a1e979
Revises: 49de892f493f
Create Date: 2026-11-22 12:13:40.906444

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '63e719a1e979'
down_revision = '49de892f493f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message_invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cadence_step_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_message_invoices_org_id_invoice_id_cadence_step_id'), ['org_id', 'invoice_id', 'cadence_step_id'])
        batch_op.create_foreign_key(batch_op.f('fk_message_invoices_cadence_step_id_cadence_steps'), 'cadence_steps', ['cadence_step_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('replied_at')

    with op.batch_alter_table('message_invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_invoices_cadence_step_id_cadence_steps'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_message_invoices_org_id_invoice_id_cadence_step_id'), type_='unique')
        batch_op.drop_column('cadence_step_id')

