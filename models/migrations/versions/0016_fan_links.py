"""fan links and one-time link tokens

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fan_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('service_fan_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('linked_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_fan_link_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_fan_link_fan_id_fan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_fan_id'], ['fan.id'], name=op.f('fk_fan_link_service_fan_id_fan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fan_link')),
    sa.UniqueConstraint('fan_id', 'service_fan_id', name=op.f('uq_fan_link_fan_id'))
    )
    with op.batch_alter_table('fan_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fan_link_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fan_link_fan_id'), ['fan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fan_link_service_fan_id'), ['service_fan_id'], unique=False)

    op.create_table('link_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('service_account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_fan_id', sa.Integer(), nullable=True),
    sa.Column('ticket', sa.String(length=255), nullable=True),
    sa.Column('url', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_link_token_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_link_token_fan_id_fan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_account_id'], ['account.id'], name=op.f('fk_link_token_service_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_fan_id'], ['fan.id'], name=op.f('fk_link_token_used_by_fan_id_fan'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_token')),
    sa.UniqueConstraint('token', name=op.f('uq_link_token_token'))
    )
    with op.batch_alter_table('link_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_token_fan_id'), ['fan_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_token_fan_id'))

    op.drop_table('link_token')
    with op.batch_alter_table('fan_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fan_link_service_fan_id'))
        batch_op.drop_index(batch_op.f('ix_fan_link_fan_id'))
        batch_op.drop_index(batch_op.f('ix_fan_link_account_id'))

    op.drop_table('fan_link')
