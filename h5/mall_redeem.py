"""Redeeming a product from the H5 mall, in three pages:

  GET  /p/<code>/redeem   pick a saved address or type one (a virtual product needs none)
  POST /p/<code>/confirm  the address checked, the points shown: confirm
  POST /p/<code>/redeem   one transaction (bot/mall/orders.redeem), then the order page

The form carries a submit token made when the form was shown, so double taps, two tabs and
retries of one form make one order (the order's unique submit_token).
"""
import secrets

from flask import current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import points
from bot.mall.orders import ADDRESS_FIELDS, Refused, order_for, redeem
from bot.phones import normalize
from h5.mall import bp, on_sale
from h5.person import member_required
from h5.web import db, end_reads, message
from models import MallOrder, Product
from models.mall import VIRTUAL

SAVED_ADDRESSES = 3


def _product(code: str) -> Product | None:
    return db().scalar(on_sale(current_app.extensions["clock"].now()).where(Product.code == code))


def saved_addresses(member_id: int) -> list[tuple[int, dict]]:
    """(order id, address) of the member's last few different addresses, newest first."""
    seen, found = set(), []
    rows = db().scalars(select(MallOrder).where(MallOrder.member_id == member_id,
                                                MallOrder.address.is_not(None))
                        .order_by(MallOrder.id.desc()).limit(20))
    for order in rows:
        fingerprint = tuple(order.address.get(f) for f in ADDRESS_FIELDS)
        if fingerprint not in seen:
            seen.add(fingerprint)
            found.append((order.id, order.address))
    return found[:SAVED_ADDRESSES]


def _address_from_form(member_id: int) -> tuple[dict | None, str | None]:
    """(address, None) from the form's saved choice or typed fields, else (typed, what is wrong)."""
    saved = request.form.get("saved", "")
    if saved.isdigit():
        order = order_for(db(), member_id, int(saved))
        if order is not None and order.address:
            return order.address, None
    typed = {f: request.form.get(f, "").strip()[:128] for f in ADDRESS_FIELDS}
    if not all(typed.values()):
        return typed, "请填写完整的收货信息：收货人、手机号、所在地区和详细地址。"
    phone = normalize(typed["phone"])
    if phone is None:
        return typed, "手机号格式不对，请填写 11 位中国大陆手机号。"
    return {**typed, "phone": phone}, None


def _form(item: Product, address: dict | None, error: str | None, token: str):
    return render_template("mall/redeem.html", item=item, member=g.person.member, error=error,
                           saved=saved_addresses(g.person.member.id), address=address or {},
                           token=token)


@bp.get("/p/<code>/redeem")
@member_required
def redeem_form(code: str):
    """The address form (or straight to confirm for a virtual product)."""
    item = _product(code)
    if item is None:
        return message("商品已下架", "这件商品已下架，请返回商城看看别的。", 404, "warn",
                       link={"text": "回到积分商城", "href": url_for("mall.products")})
    return _form(item, None, None, secrets.token_hex(16))


@bp.post("/p/<code>/confirm")
@member_required
def redeem_confirm(code: str):
    """Check the address and show what will be spent; nothing is written yet."""
    item = _product(code)
    token = request.form.get("token", "")
    if item is None or len(token) != 32:
        return message("页面已过期", "页面已过期，请返回商城重新兑换。", 400, "warn",
                       link={"text": "回到积分商城", "href": url_for("mall.products")})
    address = None
    if item.kind != VIRTUAL:
        address, error = _address_from_form(g.person.member.id)
        if error:
            return _form(item, address, error, token), 400
    return render_template("mall/confirm.html", item=item, member=g.person.member,
                           address=address, token=token)


@bp.post("/p/<code>/redeem")
@member_required
def redeem_submit(code: str):
    """Place the order, once per form; then the order page says it is done."""
    token = request.form.get("token", "")
    if len(token) != 32:
        return message("页面已过期", "页面已过期，请返回商城重新兑换。", 400, "warn")
    address = {f: request.form.get(f, "") for f in ADDRESS_FIELDS} if request.form.get("name") else None
    member_id = g.person.member.id
    end_reads()
    try:
        with points.transaction(current_app._get_current_object()) as book:
            order_id = redeem(book, member_id, code, f"h5:{member_id}:{token}", address).id
    except Refused as refused:
        return message("没有兑换成功", str(refused), 409, "warn",
                       link={"text": "回到积分商城", "href": url_for("mall.products")})
    return redirect(url_for("mall.order", order_id=order_id, done="1"), 303)
