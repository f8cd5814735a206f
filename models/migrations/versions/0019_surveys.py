"""surveys as data, the guides' links, one response per person per link

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('intro', sa.Text(), nullable=False),
    sa.Column('pages', sa.JSON(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('stores', sa.JSON(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=True),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quota IS NULL OR completed <= quota', name=op.f('ck_survey_within_quota')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey')),
    sa.UniqueConstraint('code', name=op.f('uq_survey_code'))
    )
    op.create_table('survey_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('group_code', sa.String(length=32), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_survey_link_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_survey_link_store_id_store')),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_link_survey_id_survey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_link')),
    sa.UniqueConstraint('survey_id', 'staff_id', 'group_code', name=op.f('uq_survey_link_survey_id'))
    )
    with op.batch_alter_table('survey_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_link_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_link_store_id'), ['store_id'], unique=False)

    op.create_table('survey_response',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_survey_response_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['survey_link.id'], name=op.f('fk_survey_response_link_id_survey_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_survey_response_member_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_response_survey_id_survey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_response')),
    sa.UniqueConstraint('link_id', 'openid', name=op.f('uq_survey_response_link_id'))
    )
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_response_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_survey_response_survey_completed', ['survey_id', 'completed_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_response_survey_completed')
        batch_op.drop_index(batch_op.f('ix_survey_response_member_id'))

    op.drop_table('survey_response')
    with op.batch_alter_table('survey_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_link_store_id'))
        batch_op.drop_index(batch_op.f('ix_survey_link_staff_id'))

    op.drop_table('survey_link')
    op.drop_table('survey')
