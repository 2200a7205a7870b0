"""Every change of an invoice's open balance, kept as it happens; the workspace's dated exchange rates

Invoices from before start their history with their billing on the issue date and, where they had already been
paid down, what was settled before (not counted as cash): the day the changes were first recorded.

Revision ID: a16f0e5e7a14
Revises: a16f0e5e7a13
Create Date: 2026-12-08 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a14'
down_revision = 'a16f0e5e7a13'
branch_labels = None
depends_on = None

STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
OPEN_BALANCE = "CASE WHEN status IN ('open', 'disputed') THEN balance_minor ELSE 0 END"
START_HISTORY = (
    "INSERT INTO balance_changes (org_id, invoice_id, customer_id, currency, day, amount_minor, kind, source, "
    "recorded_at) SELECT org_id, id, customer_id, currency, issue_date, amount_minor, 'issued', 'system', "
    "CURRENT_TIMESTAMP FROM invoices"
)
SETTLED_BEFORE = (
    "INSERT INTO balance_changes (org_id, invoice_id, customer_id, currency, day, amount_minor, kind, source, "
    f"recorded_at) SELECT org_id, id, customer_id, currency, CURRENT_DATE, {OPEN_BALANCE} - amount_minor, "
    f"'settled_before', 'system', CURRENT_TIMESTAMP FROM invoices WHERE {OPEN_BALANCE} <> amount_minor"
)


def _isolate(table):
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON {table} USING ({STRICT_CHECK}) WITH CHECK ({STRICT_CHECK})")


def upgrade():
    op.create_table('balance_changes',
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_balance_changes_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_balance_changes_invoice_id_invoices'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_balance_changes_org_id_organizations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balance_changes'))
    )
    with op.batch_alter_table('balance_changes', schema=None) as batch_op:
        batch_op.create_index('ix_balance_changes_org_day', ['org_id', 'day'], unique=False)
        batch_op.create_index('ix_balance_changes_org_invoice', ['org_id', 'invoice_id'], unique=False)
    _isolate('balance_changes')
    op.create_table('exchange_rates',
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rate', sa.String(length=32), nullable=False),
    sa.Column('base_currency', sa.String(length=3), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_exchange_rates_entered_by_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_exchange_rates_org_id_organizations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_rates')),
    sa.UniqueConstraint('org_id', 'currency', 'day', name=op.f('uq_exchange_rates_org_id_currency_day'))
    )
    _isolate('exchange_rates')
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute(START_HISTORY)
        op.execute(SETTLED_BEFORE)
        return
    # Row-level security shows one workspace at a time, the owner included: each is written in its own scope.
    for (org_id,) in bind.exec_driver_sql("SELECT id FROM organizations ORDER BY id").fetchall():
        bind.exec_driver_sql(f"SELECT set_config('plixo.workspace', '{int(org_id)}', true)")
        op.execute(START_HISTORY)
        op.execute(SETTLED_BEFORE)
    bind.exec_driver_sql("SELECT set_config('plixo.workspace', '', true)")


def downgrade():
    op.drop_table('exchange_rates')
    with op.batch_alter_table('balance_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_balance_changes_org_invoice')
        batch_op.drop_index('ix_balance_changes_org_day')
    op.drop_table('balance_changes')
