"""Replies payers send, matched to what they answer and understood

Revision ID: fad11ae4f316
Revises: c09449b517bc
Create Date: 2026-12-03 13:07:59.152596

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fad11ae4f316'
down_revision = 'c09449b517bc'
branch_labels = None
depends_on = None

# Like every tenant table: row-level security with the strict workspace policy (see 5f1c2a7d9e30).
STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"


def upgrade():
    op.create_table('replies',
    sa.Column('header_message_id', sa.String(length=300), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.String(length=20), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('confidence_pct', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('return_date', sa.Date(), nullable=True),
    sa.Column('outcome', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_replies_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_replies_invoice_id_invoices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_replies_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_replies_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replies')),
    sa.UniqueConstraint('org_id', 'header_message_id', name=op.f('uq_replies_org_id_header_message_id'))
    )
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index('ix_replies_org_customer', ['org_id', 'customer_id', 'received_at'], unique=False)
        batch_op.create_index('ix_replies_org_invoice', ['org_id', 'invoice_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE replies ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE replies FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON replies USING ({STRICT_CHECK}) WITH CHECK ({STRICT_CHECK})")


def downgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_index('ix_replies_org_invoice')
        batch_op.drop_index('ix_replies_org_customer')

    op.drop_table('replies')
