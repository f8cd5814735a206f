"""Redemption, shipping and cancelling, each one transaction on a points Book (bot/points).

A redemption, in order: lock the member row (Book.lock), find the order of this submit token
(a double tap, a second tab or a retry waits on that lock and finds the first one's order),
check the product's window, level, stores and the member's limit, take one from stock with a
guarded UPDATE (never below zero, whoever races), create the order with a snapshot of the
address, spend its points through the ledger (key spend:mall_order:<id>), take a virtual code.
Any refusal raises Refused and the caller's transaction rolls back whole.
"""
from datetime import datetime

from sqlalchemy import func, select, update

from bot.clock import CST
from bot.phones import normalize
from bot.points.engine import NotEnoughPoints, adjust, spend
from bot.points.ledger import Book
from models import MallOrder, Member, Product, Store, VirtualCode
from models.mall import CANCELLED, PLACED, SHIPPED, VIRTUAL

ADDRESS_FIELDS = ("name", "phone", "region", "detail")


class Refused(Exception):
    """A redemption or an operator action that cannot go ahead; the message says what to do."""


def redeem(book: Book, member_id: int, product_code: str, submit_token: str,
           address: dict | None) -> MallOrder:
    member = book.lock(member_id)
    found = book.db.scalar(select(MallOrder).where(MallOrder.submit_token == submit_token))
    if found is not None:
        if found.member_id != member_id:
            raise Refused("这个提交已失效，请刷新页面重新兑换。")
        return found
    product = book.db.scalar(select(Product).where(Product.code == product_code, Product.listed))
    if product is None:
        raise Refused("这件商品已下架，请返回商城看看别的。")
    _check_allowed(book, member, product)
    if product.kind != VIRTUAL:
        address = _clean_address(address)
    taken = book.db.execute(update(Product).where(Product.id == product.id, Product.stock >= 1)
                            .values(stock=Product.stock - 1, sold=Product.sold + 1)
                            .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise Refused("已兑完，请返回商城看看别的。")
    order = MallOrder(submit_token=submit_token, member_id=member.id, product_id=product.id,
                      product_name=product.name, points=product.points, status=PLACED,
                      address=address if product.kind != VIRTUAL else None, created_at=book.now)
    book.db.add(order)
    book.db.flush()
    try:
        spend(book, member.id, product.points, "mall_order", order.id, f"积分商城兑换：{product.name}")
    except NotEnoughPoints as short:
        raise Refused(f"积分不足：需要 {product.points}，当前 {short.balance}。") from None
    if product.kind == VIRTUAL:
        _give_code(book, member, product, order)
    else:
        book.tell(member, f"兑换成功：{product.name}（订单 {order.id}），我们发货后会告诉您快递单号。")
    return order


def _check_allowed(book: Book, member: Member, product: Product) -> None:
    today = book.now.astimezone(CST).date()
    if (product.starts_on and today < product.starts_on) or (product.ends_on and today > product.ends_on):
        raise Refused("这件商品不在兑换时间内。")
    if product.levels and member.level not in product.levels:
        raise Refused("您的会员等级暂不能兑换这件商品。")
    if product.stores:
        store = book.db.get(Store, member.home_store_id) if member.home_store_id else None
        if store is None or store.code not in product.stores:
            raise Refused("这件商品仅限指定门店的会员兑换。")
    if product.limit_per_member is not None:
        held = book.db.scalar(select(func.count()).select_from(MallOrder).where(
            MallOrder.member_id == member.id, MallOrder.product_id == product.id,
            MallOrder.status != CANCELLED))
        if held >= product.limit_per_member:
            raise Refused(f"每人限兑 {product.limit_per_member} 件，您已兑满。")


def _clean_address(address: dict | None) -> dict:
    clean = {f: str((address or {}).get(f) or "").strip()[:128] for f in ADDRESS_FIELDS}
    missing = [f for f in ADDRESS_FIELDS if not clean[f]]
    if missing:
        raise Refused("请填写完整的收货信息：姓名、手机、地区和详细地址。")
    # Checked here, not only on the confirm page: a resubmitted or forged form skips that page.
    phone = normalize(clean["phone"])
    if phone is None:
        raise Refused("手机号格式不对，请返回上一页填写 11 位中国大陆手机号。")
    return {**clean, "phone": phone}


def _give_code(book: Book, member: Member, product: Product, order: MallOrder) -> None:
    code = book.db.scalar(select(VirtualCode).where(
        VirtualCode.product_id == product.id, VirtualCode.order_id.is_(None))
        .order_by(VirtualCode.id).limit(1).with_for_update(skip_locked=True))
    if code is None:
        raise Refused("券码已发完，请返回商城看看别的。")
    code.order_id, order.virtual_code = order.id, code.code
    order.status = SHIPPED
    order.shipped_at = book.now
    book.tell(member, f"兑换成功：{product.name}，券码 {code.code}（订单 {order.id}）。")


def _locked_order(book: Book, order_id: int) -> MallOrder:
    order = book.db.get(MallOrder, order_id)
    if order is None:
        raise Refused(f"没有订单 {order_id}。")
    book.lock(order.member_id)       # every change to an order holds its member's lock
    book.db.refresh(order)
    return order


def ship(book: Book, order_id: int, tracking: str, carrier: str | None) -> MallOrder:
    order = _locked_order(book, order_id)
    if order.status == CANCELLED:
        raise Refused(f"订单 {order_id} 已取消，不能发货。")
    if order.virtual_code:
        raise Refused(f"订单 {order_id} 是券码商品，无需发货。")
    if order.status == SHIPPED and order.tracking == tracking:
        return order
    order.status, order.tracking, order.carrier, order.shipped_at = SHIPPED, tracking, carrier, book.now
    member = book.lock(order.member_id)
    book.tell(member, f"您兑换的{order.product_name}已发货：{carrier or '快递'} {tracking}。")
    return order


def cancel(book: Book, order_id: int, reason: str, actor: str = "ops") -> MallOrder:
    """Points and stock back, once: a second cancel finds the order cancelled and does nothing."""
    order = _locked_order(book, order_id)
    if order.status == CANCELLED:
        return order
    order.status, order.cancel_reason, order.cancelled_at = CANCELLED, reason, book.now
    if not order.virtual_code:      # a code already shown cannot be taken back into the pool
        book.db.execute(update(Product).where(Product.id == order.product_id)
                        .values(stock=Product.stock + 1, sold=Product.sold - 1)
                        .execution_options(synchronize_session=False))
    adjust(book, order.member_id, order.points, f"积分商城订单 {order.id} 已取消（{reason}），积分退回",
           actor, f"mall_cancel:{order.id}")
    return order


def orders_of(db, member_id: int) -> list[MallOrder]:
    return list(db.scalars(select(MallOrder).where(MallOrder.member_id == member_id)
                           .order_by(MallOrder.id.desc())))


def order_for(db, member_id: int, order_id: int) -> MallOrder | None:
    """A member's own order, else None (another member's id is as good as unknown)."""
    order = db.get(MallOrder, order_id)
    return order if order is not None and order.member_id == member_id else None


def placed_at(order: MallOrder) -> datetime:
    return order.created_at.astimezone(CST)
