"""Checkout pages Plixo opened, so an open one is reused or expired before another

Revision ID: c09449b517bc
Revises: 54d8844c9e7f
Create Date: 2026-12-03 12:53:37.266492

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c09449b517bc'
down_revision = '54d8844c9e7f'
branch_labels = None
depends_on = None

# Like every tenant table: row-level security with the strict workspace policy (see 5f1c2a7d9e30).
STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"


def upgrade():
    op.create_table('checkout_sessions',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('stripe_session_id', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('invoice_ids', sa.JSON(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_checkout_sessions_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_checkout_sessions_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkout_sessions')),
    sa.UniqueConstraint('org_id', 'stripe_session_id', name=op.f('uq_checkout_sessions_org_id_stripe_session_id'))
    )
    with op.batch_alter_table('checkout_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_checkout_sessions_org_customer_status', ['org_id', 'customer_id', 'status'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE checkout_sessions ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE checkout_sessions FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON checkout_sessions USING ({STRICT_CHECK}) "
                   f"WITH CHECK ({STRICT_CHECK})")


def downgrade():
    with op.batch_alter_table('checkout_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_checkout_sessions_org_customer_status')

    op.drop_table('checkout_sessions')
