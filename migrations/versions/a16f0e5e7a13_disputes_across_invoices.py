"""One dispute may cover several invoices: the others it covers, each with the part contested

Revision ID: a16f0e5e7a13
Revises: a16f0e5e7a12
Create Date: 2026-12-07 22:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a13'
down_revision = 'a16f0e5e7a12'
branch_labels = None
depends_on = None

STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"


def upgrade():
    op.create_table('dispute_invoices',
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('disputed_minor', sa.BigInteger(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_invoices_dispute_id_disputes'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_dispute_invoices_invoice_id_invoices'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                            name=op.f('fk_dispute_invoices_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_invoices')),
    sa.UniqueConstraint('org_id', 'dispute_id', 'invoice_id',
                        name=op.f('uq_dispute_invoices_org_id_dispute_id_invoice_id'))
    )
    with op.batch_alter_table('dispute_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_dispute_invoices_org_invoice', ['org_id', 'invoice_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE dispute_invoices ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE dispute_invoices FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON dispute_invoices USING ({STRICT_CHECK}) "
                   f"WITH CHECK ({STRICT_CHECK})")


def downgrade():
    with op.batch_alter_table('dispute_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_dispute_invoices_org_invoice')
    op.drop_table('dispute_invoices')
