"""Sending domains warm up; messages keep the domain they left from and their provider draft

Revision ID: cc74c75c8918
Revises: 705f7c2473d3
Create Date: 2026-12-03 14:29:00.481252

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cc74c75c8918'
down_revision = '705f7c2473d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_domain', sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column('provider_draft_id', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('bounced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_org_sender_domain_sent', ['org_id', 'sender_domain', 'sent_at'], unique=False)

    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warmup_cap', sa.Integer(), server_default='20', nullable=False))
        batch_op.add_column(sa.Column('warmup_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('warmup_paused', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.drop_column('warmup_paused')
        batch_op.drop_column('warmup_day')
        batch_op.drop_column('warmup_cap')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_org_sender_domain_sent')
        batch_op.drop_column('bounced_at')
        batch_op.drop_column('provider_draft_id')
        batch_op.drop_column('sender_domain')

