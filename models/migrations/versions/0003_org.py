"""organisation, staff, referrals, role tags

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company')),
    sa.UniqueConstraint('code', name=op.f('uq_company_code'))
    )
    op.create_table('store',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_store_company_id_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store')),
    sa.UniqueConstraint('code', name=op.f('uq_store_code'))
    )
    op.create_table('wechat_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('wx_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_wechat_tag_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_tag')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_wechat_tag_account_id'))
    )
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referee_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('referrer_id <> referee_id', name=op.f('ck_referral_not_self')),
    sa.ForeignKeyConstraint(['referee_id'], ['member.id'], name=op.f('fk_referral_referee_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['referrer_id'], ['member.id'], name=op.f('fk_referral_referrer_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral')),
    sa.UniqueConstraint('referee_id', name=op.f('uq_referral_referee_id'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_referrer_id'), ['referrer_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('default_agent', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_staff_member_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_staff_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('phone', name=op.f('uq_staff_phone'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role_tag', sa.String(length=8), nullable=False, server_default='粉丝'))
        batch_op.create_index('uq_fan_account_member', ['account_id', 'member_id'], unique=True, postgresql_where=sa.text('member_id IS NOT NULL'), sqlite_where=sa.text('member_id IS NOT NULL'))

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_store_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('imported', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(batch_op.f('fk_member_home_store_id_store'), 'store', ['home_store_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_member_home_store_id_store'), type_='foreignkey')
        batch_op.drop_column('imported')
        batch_op.drop_column('home_store_id')

    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.drop_index('uq_fan_account_member', postgresql_where=sa.text('member_id IS NOT NULL'), sqlite_where=sa.text('member_id IS NOT NULL'))
        batch_op.drop_column('role_tag')

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_member_id'))

    op.drop_table('staff')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_referrer_id'))

    op.drop_table('referral')
    op.drop_table('wechat_tag')
    op.drop_table('store')
    op.drop_table('company')
