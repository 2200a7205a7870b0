"""Disputes get a lifecycle (needs review, investigating, waiting on the customer or internally, resolved valid or
invalid, withdrawn) and workspace reasons with an SLA and an owner

Earlier statuses map onto it: open is needs review (when flagged) or investigating, awaiting_customer is waiting on
the customer; a chargeback the merchant won (resolved, upheld) is resolved invalid, one it lost (rejected, credit)
resolved valid with a credit note, a closed warning (resolved, withdrawn) withdrawn.

Revision ID: a16f0e5e7a05
Revises: a16f0e5e7a04
Create Date: 2026-12-07 22:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a05'
down_revision = 'a16f0e5e7a04'
branch_labels = None
depends_on = None

STRICT_CHECK = "org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
STATUS_MAP = (
    "UPDATE disputes SET status = 'needs_review' WHERE status = 'open' AND needs_review",
    "UPDATE disputes SET status = 'investigating' WHERE status = 'open'",
    "UPDATE disputes SET status = 'waiting_customer' WHERE status = 'awaiting_customer'",
    "UPDATE disputes SET verdict = 'invalid', outcome = 'no_action' WHERE status = 'resolved' AND outcome = 'upheld'",
    "UPDATE disputes SET status = 'withdrawn', outcome = NULL WHERE status = 'resolved' AND outcome = 'withdrawn'",
    "UPDATE disputes SET status = 'resolved', verdict = 'valid', outcome = 'credit_note' WHERE status = 'rejected'",
)


def upgrade():
    op.create_table('dispute_reasons',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('sla_days', sa.Integer(), nullable=False),
    sa.Column('owner_role', sa.String(length=20), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_dispute_reasons_org_id_organizations'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_dispute_reasons_owner_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_reasons')),
    sa.UniqueConstraint('org_id', 'key', name=op.f('uq_dispute_reasons_org_id_key'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verdict', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), server_default='', nullable=False))
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for statement in STATUS_MAP:
            op.execute(statement)
        return
    op.execute("ALTER TABLE dispute_reasons ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE dispute_reasons FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY workspace_isolation ON dispute_reasons USING ({STRICT_CHECK}) WITH CHECK ({STRICT_CHECK})")
    # Row-level security shows one workspace at a time, the owner included: each is updated in its own scope.
    for (org_id,) in bind.exec_driver_sql("SELECT id FROM organizations ORDER BY id").fetchall():
        bind.exec_driver_sql(f"SELECT set_config('plixo.workspace', '{int(org_id)}', true)")
        for statement in STATUS_MAP:
            op.execute(statement)
    bind.exec_driver_sql("SELECT set_config('plixo.workspace', '', true)")


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('verdict')
    op.drop_table('dispute_reasons')
