"""Customer service: conversations, assignments, transcripts, agent shifts, canned replies (issue #6)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cs_canned_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_cs_canned_reply_store_id_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cs_canned_reply'))
    )
    op.create_table('cs_conversation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('kf_account', sa.String(length=64), nullable=True),
    sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=16), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_cs_conversation_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_cs_conversation_agent_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_cs_conversation_fan_id_fan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_cs_conversation_store_id_store'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cs_conversation'))
    )
    with op.batch_alter_table('cs_conversation', schema=None) as batch_op:
        batch_op.create_index('ix_cs_conversation_account_status', ['account_id', 'status', 'opened_at'], unique=False)
        batch_op.create_index('ix_cs_conversation_agent_status', ['agent_id', 'status'], unique=False)
        batch_op.create_index('ix_cs_conversation_fan_closed', ['fan_id', 'closed_at'], unique=False)
        batch_op.create_index('uq_cs_conversation_open_fan', ['fan_id'], unique=True, postgresql_where=sa.text("status <> 'closed'"), sqlite_where=sa.text("status <> 'closed'"))

    op.create_table('cs_agent_state',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('on_shift', sa.Boolean(), nullable=False),
    sa.Column('idle_since', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_conversation_id', sa.Integer(), nullable=True),
    sa.Column('kf_account', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['current_conversation_id'], ['cs_conversation.id'], name=op.f('fk_cs_agent_state_current_conversation_id_cs_conversation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_cs_agent_state_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_cs_agent_state'))
    )
    op.create_table('cs_assignment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_cs_assignment_agent_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['cs_conversation.id'], name=op.f('fk_cs_assignment_conversation_id_cs_conversation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cs_assignment'))
    )
    with op.batch_alter_table('cs_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cs_assignment_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('cs_message',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=8), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('msg_type', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('media_id', sa.String(length=128), nullable=True),
    sa.Column('read_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_cs_message_agent_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['cs_conversation.id'], name=op.f('fk_cs_message_conversation_id_cs_conversation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cs_message'))
    )
    with op.batch_alter_table('cs_message', schema=None) as batch_op:
        batch_op.create_index('ix_cs_message_conversation', ['conversation_id', 'id'], unique=False)

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cs_mode', sa.String(length=8), nullable=False, server_default='relay'))



def downgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('cs_mode')

    with op.batch_alter_table('cs_message', schema=None) as batch_op:
        batch_op.drop_index('ix_cs_message_conversation')

    op.drop_table('cs_message')
    with op.batch_alter_table('cs_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cs_assignment_conversation_id'))

    op.drop_table('cs_assignment')
    with op.batch_alter_table('cs_conversation', schema=None) as batch_op:
        batch_op.drop_index('uq_cs_conversation_open_fan', postgresql_where=sa.text("status <> 'closed'"), sqlite_where=sa.text("status <> 'closed'"))
        batch_op.drop_index('ix_cs_conversation_fan_closed')
        batch_op.drop_index('ix_cs_conversation_agent_status')
        batch_op.drop_index('ix_cs_conversation_account_status')

    op.drop_table('cs_conversation')
    op.drop_table('cs_agent_state')
    op.drop_table('cs_canned_reply')
