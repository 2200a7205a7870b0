"""Message invoices keyed on workspace and message

One composite foreign key replaces the links' two (to the workspace, to the message): half the checks per row
for a large engine tick, a link can only name a message of its own workspace, and deleting messages finds their
links through the (org_id, message_id, ...) index. The (org_id, invoice_id) index duplicated the prefix of a
unique constraint.

Revision ID: f4216a3e53e3
Revises: 5f1c2a7d9e30
Create Date: 2026-12-02 18:31:40.077143

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4216a3e53e3'
down_revision = '5f1c2a7d9e30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_messages_org_id_id'), ['org_id', 'id'])

    with op.batch_alter_table('message_invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_invoices_org_invoice'))
        batch_op.drop_constraint(batch_op.f('fk_message_invoices_org_id_organizations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_message_invoices_message_id_messages'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_message_invoices_org_id_messages'), 'messages', ['org_id', 'message_id'], ['org_id', 'id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('message_invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_invoices_org_id_messages'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_message_invoices_message_id_messages'), 'messages', ['message_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_message_invoices_org_id_organizations'), 'organizations', ['org_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_message_invoices_org_invoice'), ['org_id', 'invoice_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_messages_org_id_id'), type_='unique')
