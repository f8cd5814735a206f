"""The points mall: categories, products, virtual-code pools and points orders.

Stock semantics: `product.stock` is what is left to sell, `product.sold` what orders hold (a
cancel gives one back to each). A products file sets `stock`; `sold` and the orders stay.
"""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, bigpk, intpk, timestamp

PHYSICAL, VIRTUAL = "physical", "virtual"
PLACED, SHIPPED, CANCELLED = "placed", "shipped", "cancelled"


class MallCategory(Base):
    __tablename__ = "mall_category"
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)


class Product(Base):
    __tablename__ = "mall_product"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),
                      CheckConstraint("points > 0", name="points_positive"))
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    category_id: Mapped[int] = mapped_column(ForeignKey("mall_category.id"))
    kind: Mapped[str] = mapped_column(String(16), default=PHYSICAL)
    points: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)          # left to sell
    sold: Mapped[int] = mapped_column(default=0)           # held by orders not cancelled
    limit_per_member: Mapped[int | None]
    description: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str | None] = mapped_column(String(255))
    starts_on: Mapped[date | None] = mapped_column(Date)   # China dates, both included
    ends_on: Mapped[date | None] = mapped_column(Date)
    levels: Mapped[list] = mapped_column(JSON, default=list)   # level codes; empty: everyone
    stores: Mapped[list] = mapped_column(JSON, default=list)   # store codes; empty: all stores
    listed: Mapped[bool] = mapped_column(default=True)     # in the file last loaded
    updated_at: Mapped[timestamp]


class VirtualCode(Base):
    """One code of a virtual product's pool; an order takes one for good."""

    __tablename__ = "mall_virtual_code"
    __table_args__ = (UniqueConstraint("product_id", "code"),
                      Index("ix_mall_virtual_code_free", "product_id", "order_id"))
    id: Mapped[bigpk]
    product_id: Mapped[int] = mapped_column(ForeignKey("mall_product.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("mall_order.id"), unique=True)


class MallOrder(Base):
    """One redemption: one item, its points, a snapshot of the address it ships to."""

    __tablename__ = "mall_order"
    __table_args__ = (Index("ix_mall_order_member_product", "member_id", "product_id"),)
    id: Mapped[bigpk]
    submit_token: Mapped[str] = mapped_column(String(64), unique=True)   # one order per submit
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("mall_product.id"))
    product_name: Mapped[str] = mapped_column(String(128))
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=PLACED, index=True)
    address: Mapped[dict | None] = mapped_column(JSON)     # name, phone, region, detail
    virtual_code: Mapped[str | None] = mapped_column(String(128))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[timestamp]
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
