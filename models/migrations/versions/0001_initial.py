"""initial schema: accounts, fans, events, keyword replies, outbound messages

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('appid', sa.String(length=32), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('aes_key', sa.String(length=43), nullable=True),
    sa.Column('previous_aes_key', sa.String(length=43), nullable=True),
    sa.Column('original_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('welcome_text', sa.Text(), nullable=False),
    sa.Column('notice_template_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('appid', name=op.f('uq_account_appid')),
    sa.UniqueConstraint('slug', name=op.f('uq_account_slug'))
    )
    op.create_table('event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('msg_id', sa.BigInteger(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_event_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_account_openid', ['account_id', 'openid'], unique=False)
        batch_op.create_index('ix_event_account_type_sent', ['account_id', 'type', 'sent_at'], unique=False)

    op.create_table('fan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('following', sa.Boolean(), nullable=False),
    sa.Column('followed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unfollowed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('follow_count', sa.Integer(), nullable=False),
    sa.Column('first_scene', sa.String(length=64), nullable=True),
    sa.Column('last_scene', sa.String(length=64), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_fan_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fan')),
    sa.UniqueConstraint('account_id', 'openid', name=op.f('uq_fan_account_id'))
    )
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fan_unionid'), ['unionid'], unique=False)

    op.create_table('keyword_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('keyword', sa.String(length=64), nullable=False),
    sa.Column('match', sa.String(length=16), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_keyword_reply_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_keyword_reply')),
    sa.UniqueConstraint('account_id', 'keyword', 'match', name=op.f('uq_keyword_reply_account_id'))
    )
    op.create_table('outbound_message',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('noticed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_outbound_message_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message'))
    )
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_pending', ['account_id', 'openid', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_pending')

    op.drop_table('outbound_message')
    op.drop_table('keyword_reply')
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fan_unionid'))

    op.drop_table('fan')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_account_type_sent')
        batch_op.drop_index('ix_event_account_openid')

    op.drop_table('event')
    op.drop_table('account')
