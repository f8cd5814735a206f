"""The points mall: categories, products, virtual-code pools, points orders

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('mall_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_category')),
    sa.UniqueConstraint('code', name=op.f('uq_mall_category_code'))
    )
    op.create_table('mall_product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), nullable=False),
    sa.Column('limit_per_member', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('image', sa.String(length=255), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('stores', sa.JSON(), nullable=False),
    sa.Column('listed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_mall_product_stock_not_negative')),
    sa.CheckConstraint('points > 0', name=op.f('ck_mall_product_points_positive')),
    sa.ForeignKeyConstraint(['category_id'], ['mall_category.id'], name=op.f('fk_mall_product_category_id_mall_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_product')),
    sa.UniqueConstraint('code', name=op.f('uq_mall_product_code'))
    )
    op.create_table('mall_order',
    sa.Column('id', BigId, nullable=False),
    sa.Column('submit_token', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('product_name', sa.String(length=128), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('address', sa.JSON(), nullable=True),
    sa.Column('virtual_code', sa.String(length=128), nullable=True),
    sa.Column('carrier', sa.String(length=64), nullable=True),
    sa.Column('tracking', sa.String(length=64), nullable=True),
    sa.Column('cancel_reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shipped_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_mall_order_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['mall_product.id'], name=op.f('fk_mall_order_product_id_mall_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_order')),
    sa.UniqueConstraint('submit_token', name=op.f('uq_mall_order_submit_token'))
    )
    op.create_index('ix_mall_order_member_product', 'mall_order', ['member_id', 'product_id'], unique=False)
    op.create_index(op.f('ix_mall_order_status'), 'mall_order', ['status'], unique=False)
    op.create_table('mall_virtual_code',
    sa.Column('id', BigId, nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('order_id', BigId, nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['mall_product.id'], name=op.f('fk_mall_virtual_code_product_id_mall_product'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['mall_order.id'], name=op.f('fk_mall_virtual_code_order_id_mall_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_virtual_code')),
    sa.UniqueConstraint('product_id', 'code', name=op.f('uq_mall_virtual_code_product_id')),
    sa.UniqueConstraint('order_id', name=op.f('uq_mall_virtual_code_order_id'))
    )
    op.create_index('ix_mall_virtual_code_free', 'mall_virtual_code', ['product_id', 'order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mall_virtual_code_free', table_name='mall_virtual_code')
    op.drop_table('mall_virtual_code')
    op.drop_index(op.f('ix_mall_order_status'), table_name='mall_order')
    op.drop_index('ix_mall_order_member_product', table_name='mall_order')
    op.drop_table('mall_order')
    op.drop_table('mall_product')
    op.drop_table('mall_category')
