"""Invoices by issue date: the console reads today's sales without walking every invoice

Revision ID: 3b1f0c9d2e57
Revises: 7c495e10ba0d
Create Date: 2026-12-08 04:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3b1f0c9d2e57'
down_revision = '7c495e10ba0d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_invoices_org_issue_date', 'invoices', ['org_id', 'issue_date'], unique=False)


def downgrade():
    op.drop_index('ix_invoices_org_issue_date', table_name='invoices')
