"""outbound rows for notices that cannot reach anyone: member, reason, no account or openid

Revision ID: 0014
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=255), nullable=True))
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('openid', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_outbound_message_member_id_member'), 'member',
                                    ['member_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    op.execute("DELETE FROM outbound_message WHERE account_id IS NULL OR openid IS NULL")
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbound_message_member_id_member'), type_='foreignkey')
        batch_op.alter_column('openid', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('reason')
        batch_op.drop_column('member_id')
