"""pending points that mature, growth caps before clamping, trip ends, lifecycle stages

Revision ID: 0007
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_stage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('entered_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('left_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_stage_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_stage'))
    )
    with op.batch_alter_table('member_stage', schema=None) as batch_op:
        batch_op.create_index('ix_member_stage_member_entered', ['member_id', 'entered_at'], unique=False)
        batch_op.create_index('ix_member_stage_stage_current', ['stage', 'member_id'], unique=False, postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))
        batch_op.create_index('uq_member_stage_current', ['member_id'], unique=True, postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))

    op.create_table('points_pending',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('award_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('ledger', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('cancelled', sa.BigInteger(), nullable=False),
    sa.Column('matures_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('settled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cancelled >= 0 AND cancelled <= amount', name=op.f('ck_points_pending_cancelled_in_range')),
    sa.ForeignKeyConstraint(['award_id'], ['points_award.id'], name=op.f('fk_points_pending_award_id_points_award'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_points_pending_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_pending')),
    sa.UniqueConstraint('award_id', 'ledger', name=op.f('uq_points_pending_award_id'))
    )
    with op.batch_alter_table('points_pending', schema=None) as batch_op:
        batch_op.create_index('ix_points_pending_due', ['matures_at'], unique=False, postgresql_where=sa.text("state = 'waiting'"), sqlite_where=sa.text("state = 'waiting'"))
        batch_op.create_index('ix_points_pending_member_waiting', ['member_id', 'matures_at'], unique=False, postgresql_where=sa.text("state = 'waiting'"), sqlite_where=sa.text("state = 'waiting'"))

    with op.batch_alter_table('points_award', schema=None) as batch_op:
        batch_op.add_column(sa.Column('computed_growth', sa.BigInteger(), nullable=False, server_default='0'))
    # Awards made before growth caps existed were never clamped: what they paid is what they computed.
    op.execute("UPDATE points_award SET computed_growth = growth")
    with op.batch_alter_table('points_award', schema=None) as batch_op:
        batch_op.alter_column('computed_growth', server_default=None)

    with op.batch_alter_table('purchase', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trip_end', sa.Date(), nullable=True))

    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_cancelled', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.alter_column('points_cancelled', server_default=None)



def downgrade() -> None:
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_column('points_cancelled')

    with op.batch_alter_table('purchase', schema=None) as batch_op:
        batch_op.drop_column('trip_end')

    with op.batch_alter_table('points_award', schema=None) as batch_op:
        batch_op.drop_column('computed_growth')

    with op.batch_alter_table('points_pending', schema=None) as batch_op:
        batch_op.drop_index('ix_points_pending_member_waiting', postgresql_where=sa.text("state = 'waiting'"), sqlite_where=sa.text("state = 'waiting'"))
        batch_op.drop_index('ix_points_pending_due', postgresql_where=sa.text("state = 'waiting'"), sqlite_where=sa.text("state = 'waiting'"))

    op.drop_table('points_pending')
    with op.batch_alter_table('member_stage', schema=None) as batch_op:
        batch_op.drop_index('uq_member_stage_current', postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))
        batch_op.drop_index('ix_member_stage_stage_current', postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))
        batch_op.drop_index('ix_member_stage_member_entered')

    op.drop_table('member_stage')
