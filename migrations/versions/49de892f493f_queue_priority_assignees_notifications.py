"""Queue: stored priority, assignees and notifications

Revision ID: 49de892f493f
Revises: 8475f967c7e1
Create Date: 2026-11-22 10:23:31.525064

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '49de892f493f'
down_revision = '8475f967c7e1'
branch_labels = None
depends_on = None

# Same rule as the row-level security migration (bb4f6ec2438f).
WORKSPACE_CHECK = (
    "coalesce(current_setting('plixo.workspace', true), '') = '' "
    "OR org_id = nullif(current_setting('plixo.workspace', true), '')::integer"
)


def upgrade():
    op.create_table('notifications',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_notifications_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_org_user_read', ['org_id', 'user_id', 'read_at'], unique=False)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('priority_detail', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_invoices_org_assignee', ['org_id', 'assignee_id'], unique=False)
        batch_op.create_index('ix_invoices_org_status_priority', ['org_id', 'status', 'priority', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invoices_assignee_id_users'), 'users', ['assignee_id'], ['id'], ondelete='SET NULL')

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE notifications ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE notifications FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY workspace_isolation ON notifications USING ({WORKSPACE_CHECK}) "
                   f"WITH CHECK ({WORKSPACE_CHECK})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS workspace_isolation ON notifications")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invoices_assignee_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_invoices_org_status_priority')
        batch_op.drop_index('ix_invoices_org_assignee')
        batch_op.drop_column('assignee_id')
        batch_op.drop_column('priority_detail')
        batch_op.drop_column('priority')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_org_user_read')

    op.drop_table('notifications')
