"""Stripe accounts route webhooks; payments keep what they were for and what chargebacks took

Revision ID: 6e2783ae849c
Revises: f4216a3e53e3
Create Date: 2026-12-03 08:27:34.383702

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6e2783ae849c'
down_revision = 'f4216a3e53e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_accounts',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_stripe_accounts_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_accounts')),
    sa.UniqueConstraint('account_id', name=op.f('uq_stripe_accounts_account_id'))
    )
    with op.batch_alter_table('stripe_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_accounts_org', ['org_id'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversed_minor', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('target_invoice_ids', sa.JSON(), nullable=False, server_default='[]'))



def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('target_invoice_ids')
        batch_op.drop_column('reversed_minor')

    with op.batch_alter_table('stripe_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_accounts_org')

    op.drop_table('stripe_accounts')
