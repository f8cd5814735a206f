"""QR codes, their scans and follows, fan tags, attribution on fans, media in the outbound queue (issue #5)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('qr_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('scene', sa.String(length=64), nullable=True),
    sa.Column('permanent', sa.Boolean(), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('welcome', sa.Text(), nullable=True),
    sa.Column('label', sa.String(length=128), nullable=False),
    sa.Column('batch', sa.String(length=64), nullable=True),
    sa.Column('batch_index', sa.Integer(), nullable=True),
    sa.Column('ticket', sa.String(length=255), nullable=True),
    sa.Column('url', sa.String(length=255), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_qr_code_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_qr_code_staff_id_staff'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_qr_code_store_id_store'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_code')),
    sa.UniqueConstraint('account_id', 'batch', 'batch_index', name='uq_qr_code_batch'),
    sa.UniqueConstraint('account_id', 'scene', name='uq_qr_code_scene')
    )
    with op.batch_alter_table('qr_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qr_code_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qr_code_store_id'), ['store_id'], unique=False)

    op.create_table('fan_tag',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('on_wechat', sa.Boolean(), nullable=False),
    sa.Column('held_back', sa.String(length=64), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_fan_tag_fan_id_fan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fan_tag')),
    sa.UniqueConstraint('fan_id', 'name', name=op.f('uq_fan_tag_fan_id'))
    )
    op.create_table('qr_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fan_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scanned', sa.Boolean(), nullable=False),
    sa.Column('scene', sa.String(length=64), nullable=True),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_qr_event_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['code_id'], ['qr_code.id'], name=op.f('fk_qr_event_code_id_qr_code'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['fan_id'], ['fan.id'], name=op.f('fk_qr_event_fan_id_fan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_event'))
    )
    with op.batch_alter_table('qr_event', schema=None) as batch_op:
        batch_op.create_index('ix_qr_event_account_at', ['account_id', 'at'], unique=False)
        batch_op.create_index('ix_qr_event_code_at', ['code_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_qr_event_fan_id'), ['fan_id'], unique=False)

    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_code_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('store_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('staff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attributed_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_fan_source_code_id'), ['source_code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fan_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fan_store_id'), ['store_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_fan_store_id_store'), 'store', ['store_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_fan_source_code_id_qr_code'), 'qr_code', ['source_code_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_fan_staff_id_staff'), 'staff', ['staff_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('msg_type', sa.String(length=16), nullable=False, server_default='text'))
        batch_op.add_column(sa.Column('media_id', sa.String(length=128), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_column('media_id')
        batch_op.drop_column('msg_type')

    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fan_staff_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_fan_source_code_id_qr_code'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_fan_store_id_store'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_fan_store_id'))
        batch_op.drop_index(batch_op.f('ix_fan_staff_id'))
        batch_op.drop_index(batch_op.f('ix_fan_source_code_id'))
        batch_op.drop_column('attributed_at')
        batch_op.drop_column('staff_id')
        batch_op.drop_column('store_id')
        batch_op.drop_column('source_code_id')

    with op.batch_alter_table('qr_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qr_event_fan_id'))
        batch_op.drop_index('ix_qr_event_code_at')
        batch_op.drop_index('ix_qr_event_account_at')

    op.drop_table('qr_event')
    op.drop_table('fan_tag')
    with op.batch_alter_table('qr_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qr_code_store_id'))
        batch_op.drop_index(batch_op.f('ix_qr_code_staff_id'))

    op.drop_table('qr_code')
