"""fan.unionid_checked_at: the unionid is learnt in batches of 100 per account, not a job per follow

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unionid_checked_at', models.base.UTCDateTime(timezone=True), nullable=True))
    # Fans that exist already were asked for one by one when they followed (the job before this one).
    op.execute("UPDATE fan SET unionid_checked_at = CURRENT_TIMESTAMP")
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.create_index('ix_fan_unionid_unchecked', ['account_id'], unique=False,
                              postgresql_where=sa.text('unionid_checked_at IS NULL'),
                              sqlite_where=sa.text('unionid_checked_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('fan', schema=None) as batch_op:
        batch_op.drop_index('ix_fan_unionid_unchecked', postgresql_where=sa.text('unionid_checked_at IS NULL'),
                            sqlite_where=sa.text('unionid_checked_at IS NULL'))
        batch_op.drop_column('unionid_checked_at')
