"""automatic tag rules (their watermarks), mass sends by tag and whom they reached

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tag_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=30), nullable=False),
    sa.Column('every_hours', sa.Integer(), nullable=False),
    sa.Column('when', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('evaluated_digest', sa.String(length=64), nullable=True),
    sa.Column('evaluated_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('watermark', sa.JSON(), nullable=False),
    sa.Column('fans', sa.Integer(), nullable=False),
    sa.Column('loaded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_rule')),
    sa.UniqueConstraint('name', name=op.f('uq_tag_rule_name'))
    )
    op.create_table('mass_send',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=30), nullable=False),
    sa.Column('msgtype', sa.String(length=16), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('client_msg_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('planned_fans', sa.Integer(), nullable=False),
    sa.Column('planned_within_limit', sa.Integer(), nullable=False),
    sa.Column('msg_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('finish_status', sa.String(length=64), nullable=True),
    sa.Column('total_count', sa.Integer(), nullable=True),
    sa.Column('filter_count', sa.Integer(), nullable=True),
    sa.Column('sent_count', sa.Integer(), nullable=True),
    sa.Column('error_count', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_mass_send_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mass_send')),
    sa.UniqueConstraint('client_msg_id', name=op.f('uq_mass_send_client_msg_id'))
    )
    with op.batch_alter_table('mass_send', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mass_send_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mass_send_group_key'), ['group_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_mass_send_msg_id'), ['msg_id'], unique=False)

    op.create_table('mass_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('send_id', sa.Integer(), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_mass_delivery_fan_id_fan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['send_id'], ['mass_send.id'], name=op.f('fk_mass_delivery_send_id_mass_send'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mass_delivery'))
    )
    with op.batch_alter_table('mass_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mass_delivery_fan_id'), ['fan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mass_delivery_send_id'), ['send_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mass_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mass_delivery_send_id'))
        batch_op.drop_index(batch_op.f('ix_mass_delivery_fan_id'))

    op.drop_table('mass_delivery')
    with op.batch_alter_table('mass_send', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mass_send_msg_id'))
        batch_op.drop_index(batch_op.f('ix_mass_send_group_key'))
        batch_op.drop_index(batch_op.f('ix_mass_send_account_id'))

    op.drop_table('mass_send')
    op.drop_table('tag_rule')
