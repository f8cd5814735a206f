"""points engine: members, rules, awards, ledgers, lots, levels, purchases

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('integration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration')),
    sa.UniqueConstraint('name', name=op.f('uq_integration_name'))
    )
    op.create_table('member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('birthday', sa.Date(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('growth', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('level_since', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('growth >= 0', name=op.f('ck_member_growth_not_negative')),
    sa.CheckConstraint('points >= 0', name=op.f('ck_member_points_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('phone', name=op.f('uq_member_phone'))
    )
    op.create_table('points_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('in_force', sa.Boolean(), nullable=False),
    sa.Column('loaded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_policy'))
    )
    with op.batch_alter_table('points_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_policy_in_force'), ['in_force'], unique=False)

    op.create_table('points_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('in_force', sa.Boolean(), nullable=False),
    sa.Column('loaded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_rule')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_points_rule_code'))
    )
    with op.batch_alter_table('points_rule', schema=None) as batch_op:
        batch_op.create_index('ix_points_rule_trigger_in_force', ['trigger', 'in_force'], unique=False)

    op.create_table('level_change',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('from_level', sa.String(length=32), nullable=False),
    sa.Column('to_level', sa.String(length=32), nullable=False),
    sa.Column('growth', sa.BigInteger(), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_level_change_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_level_change'))
    )
    with op.batch_alter_table('level_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_level_change_member_id'), ['member_id'], unique=False)

    op.create_table('points_award',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=64), nullable=False),
    sa.Column('group', sa.String(length=64), nullable=True),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('computed_points', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('growth', sa.BigInteger(), nullable=False),
    sa.Column('points_reversed', sa.BigInteger(), nullable=False),
    sa.Column('growth_reversed', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_points_award_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['points_rule.id'], name=op.f('fk_points_award_rule_id_points_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_award')),
    sa.UniqueConstraint('key', name=op.f('uq_points_award_key'))
    )
    with op.batch_alter_table('points_award', schema=None) as batch_op:
        batch_op.create_index('ix_points_award_member_occurred', ['member_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_points_award_source', ['source_type', 'source_id'], unique=False)

    op.create_table('purchase',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
    sa.Column('payment_method', sa.String(length=32), nullable=False),
    sa.Column('paid_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('refunded_fen <= amount_fen', name=op.f('ck_purchase_refund_within_amount')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_purchase_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase')),
    sa.UniqueConstraint('order_id', name=op.f('uq_purchase_order_id'))
    )
    with op.batch_alter_table('purchase', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_member_id'), ['member_id'], unique=False)

    op.create_table('ledger_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('ledger', sa.String(length=8), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('rule_version', sa.Integer(), nullable=True),
    sa.Column('award_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('delta <> 0', name=op.f('ck_ledger_entry_delta_not_zero')),
    sa.ForeignKeyConstraint(['award_id'], ['points_award.id'], name=op.f('fk_ledger_entry_award_id_points_award')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_ledger_entry_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['points_rule.id'], name=op.f('fk_ledger_entry_rule_id_points_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_entry_key'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_award_id', ['award_id'], unique=False)
        batch_op.create_index('ix_ledger_entry_member_ledger_id', ['member_id', 'ledger', 'id'], unique=False)

    op.create_table('refund',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('purchase_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('points_reversed', sa.BigInteger(), nullable=False),
    sa.Column('growth_reversed', sa.BigInteger(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchase.id'], name=op.f('fk_refund_purchase_id_purchase'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund')),
    sa.UniqueConstraint('purchase_id', 'refund_id', name=op.f('uq_refund_purchase_id'))
    )
    op.create_table('points_lot',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('earned_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('remaining >= 0 AND remaining <= amount', name=op.f('ck_points_lot_remaining_in_range')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_points_lot_entry_id_ledger_entry')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_points_lot_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_lot')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_points_lot_entry_id'))
    )
    with op.batch_alter_table('points_lot', schema=None) as batch_op:
        batch_op.create_index('ix_points_lot_expires', ['expires_at'], unique=False,
                              postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))
        batch_op.create_index('ix_points_lot_member_open', ['member_id', 'expires_at'], unique=False,
                              postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))

    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_fan_member_id'), ['member_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_fan_member_id_member'), 'member', ['member_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fan_member_id_member'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_fan_member_id'))
        batch_op.drop_column('member_id')

    with op.batch_alter_table('points_lot', schema=None) as batch_op:
        batch_op.drop_index('ix_points_lot_member_open')
        batch_op.drop_index('ix_points_lot_expires')

    op.drop_table('points_lot')
    op.drop_table('refund')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_member_ledger_id')
        batch_op.drop_index('ix_ledger_entry_award_id')

    op.drop_table('ledger_entry')
    with op.batch_alter_table('purchase', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_member_id'))

    op.drop_table('purchase')
    with op.batch_alter_table('points_award', schema=None) as batch_op:
        batch_op.drop_index('ix_points_award_source')
        batch_op.drop_index('ix_points_award_member_occurred')

    op.drop_table('points_award')
    with op.batch_alter_table('level_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_level_change_member_id'))

    op.drop_table('level_change')
    with op.batch_alter_table('points_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_points_rule_trigger_in_force')

    op.drop_table('points_rule')
    with op.batch_alter_table('points_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_policy_in_force'))

    op.drop_table('points_policy')
    op.drop_table('member')
    op.drop_table('integration')
