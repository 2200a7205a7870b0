"""Replies wait for a person: handled (when, by whom, how) and a person's correction of the class

Replies from before are counted handled when Plixo acted on them or an e-mail followed them, as the send guard
read them until now; the others wait in triage.

Revision ID: a16f0e5e7a04
Revises: a16f0e5e7a03
Create Date: 2026-12-07 21:22:15.607222

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16f0e5e7a04'
down_revision = 'a16f0e5e7a03'
branch_labels = None
depends_on = None

ACTED_ON = "('dispute', 'out_of_office', 'unsubscribe', 'already_paid', 'bounce')"
MARK_EARLIER_REPLIES = (
    "UPDATE replies SET handled_at = received_at, handled_how = 'Before triage' "
    f"WHERE handled_at IS NULL AND (label IN {ACTED_ON} OR customer_id IS NULL OR EXISTS ("
    "SELECT 1 FROM messages m WHERE m.org_id = replies.org_id AND m.customer_id = replies.customer_id "
    "AND m.sent_at > replies.received_at))"
)


def upgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('handled_how', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('corrected_label', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('corrected_by_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_replies_org_waiting', ['org_id', 'handled_at', 'customer_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_replies_corrected_by_id_users'), 'users', ['corrected_by_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_replies_handled_by_id_users'), 'users', ['handled_by_id'],
                                    ['id'], ondelete='SET NULL')
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute(MARK_EARLIER_REPLIES)
        return
    # Row-level security shows one workspace at a time, the owner included: each is updated in its own scope.
    for (org_id,) in bind.exec_driver_sql("SELECT id FROM organizations ORDER BY id").fetchall():
        bind.exec_driver_sql(f"SELECT set_config('plixo.workspace', '{int(org_id)}', true)")
        op.execute(MARK_EARLIER_REPLIES)
    bind.exec_driver_sql("SELECT set_config('plixo.workspace', '', true)")


def downgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_replies_handled_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_replies_corrected_by_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_replies_org_waiting')
        batch_op.drop_column('corrected_by_id')
        batch_op.drop_column('corrected_label')
        batch_op.drop_column('handled_how')
        batch_op.drop_column('handled_by_id')
        batch_op.drop_column('handled_at')
