"""The points mall's pages: products (category, "我能兑换", a points range), a product, my points
orders, my points history. Redeeming is h5/mall_redeem.py. Every page needs a bound member
(h5/person.py answers for everybody else).
"""
from datetime import datetime

from flask import abort, current_app, g, render_template, request, url_for
from sqlalchemy import select

from bot.clock import CST
from bot.mall.orders import order_for, orders_of
from h5.person import member_required
from h5.web import area_blueprint, db, message
from models import LedgerEntry, MallCategory, Product
from models.points import POINTS

bp = area_blueprint("mall", __name__)
HISTORY_PAGE = 50


def on_sale(now: datetime):
    """Listed products inside their China-date window."""
    today = now.astimezone(CST).date()
    return (select(Product).where(Product.listed)
            .where((Product.starts_on.is_(None)) | (Product.starts_on <= today))
            .where((Product.ends_on.is_(None)) | (Product.ends_on >= today)))


def _number(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.get("/")
@member_required
def products():
    """The products on sale, filtered by category, affordability and a points range."""
    session, member = db(), g.person.member
    categories = list(session.scalars(select(MallCategory).order_by(MallCategory.position, MallCategory.id)))
    chosen = request.args.get("category", "")
    affordable = request.args.get("affordable") == "1"
    low, high = _number("min"), _number("max")
    query = on_sale(_now())
    if chosen:
        query = query.join(MallCategory).where(MallCategory.code == chosen)
    if affordable:
        query = query.where(Product.points <= member.points, Product.stock > 0)
    if low is not None:
        query = query.where(Product.points >= low)
    if high is not None:
        query = query.where(Product.points <= high)
    items = list(session.scalars(query.order_by(Product.points, Product.id)))
    return render_template("mall/products.html", categories=categories, items=items, chosen=chosen,
                           affordable=affordable, low=low, high=high, member=member,
                           share_title="积分商城", share_desc="用积分兑换好礼")


@bp.get("/p/<code>")
@member_required
def product(code: str):
    """One product: what it is, what it costs, whether this member can have it."""
    item = db().scalar(on_sale(_now()).where(Product.code == code))
    if item is None:
        abort(404)
    category = db().get(MallCategory, item.category_id)
    return render_template("mall/product.html", item=item, category=category, member=g.person.member,
                           share_title=item.name, share_desc=f"{item.points} 积分兑换")


@bp.get("/orders")
@member_required
def orders():
    """My points orders, newest first, with status and tracking."""
    return render_template("mall/orders.html", orders=orders_of(db(), g.person.member.id),
                           placed_at=_china)


@bp.get("/orders/<int:order_id>")
@member_required
def order(order_id: int):
    """One of my orders (another member's id is not found)."""
    found = order_for(db(), g.person.member.id, order_id)
    if found is None:
        abort(404)
    return render_template("mall/order.html", order=found, placed_at=_china,
                           done=request.args.get("done") == "1")


@bp.get("/points")
@member_required
def points():
    """My points history: every change with its reason, newest first."""
    entries = list(db().scalars(select(LedgerEntry).where(
        LedgerEntry.member_id == g.person.member.id, LedgerEntry.ledger == POINTS)
        .order_by(LedgerEntry.id.desc()).limit(HISTORY_PAGE)))
    return render_template("mall/points.html", entries=entries, member=g.person.member,
                           placed_at=_china)


@bp.errorhandler(404)
def not_found(_error):
    return message("没有找到", "没有找到这个页面，请返回积分商城看看。", 404, "warn",
                   link={"text": "回到积分商城", "href": url_for("mall.products")})


def _now() -> datetime:
    return current_app.extensions["clock"].now()


def _china(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")
