"""资料: the member profile an agent sees for the fan of their current conversation.

Level, points, lifecycle stage, the fan's tags, their store and recent orders; the phone masked (bot/phones.py),
as everywhere in chat. A fan who never bound a phone has no member data: the agent is told so,
with what we do know (tags, store).
"""
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import CST
from bot.phones import mask_phone
from bot.points.policy import current_policy
from bot.points.stages import describe
from models import Fan, FanTag, Member, Purchase, Store

RECENT_ORDERS = 3


def profile(db: Session, fan: Fan) -> str:
    """The profile lines for one fan, member or not."""
    member = db.get(Member, fan.member_id) if fan.member_id else None
    lines = [f"顾客资料（粉丝#{fan.id}）"]
    if member is None:
        lines.append("未绑定手机，还不是会员")
    else:
        policy = current_policy(db)
        lines += [f"手机：{mask_phone(member.phone)}",
                  f"等级：{policy.level_name(member.level)}（成长值 {member.growth}）",
                  f"积分：{member.points}",
                  f"阶段：{describe(db, policy, member.id)}"]
    tags = db.scalars(select(FanTag.name).where(FanTag.fan_id == fan.id).order_by(FanTag.id)).all()
    lines.append(f"标签：{'、'.join(tags) if tags else '无'}")
    lines.append(f"门店：{store_name(db, fan, member)}")
    if member is not None:
        lines += orders(db, member.id)
    return "\n".join(lines)


def store_name(db: Session, fan: Fan, member: Member | None) -> str:
    """The fan's first-touch store, else the member's home store."""
    store_id = fan.store_id or (member.home_store_id if member else None)
    store = db.get(Store, store_id) if store_id else None
    return store.name if store else "未归属门店"


def orders(db: Session, member_id: int) -> list[str]:
    """The member's latest orders, newest first: date (China time), amount, payment, refunds."""
    rows = db.scalars(select(Purchase).where(Purchase.member_id == member_id)
                      .order_by(Purchase.paid_at.desc(), Purchase.id.desc()).limit(RECENT_ORDERS)).all()
    if not rows:
        return ["最近订单：无"]
    lines = ["最近订单："]
    for row in rows:
        refund = f"，已退 {yuan(row.refunded_fen)}" if row.refunded_fen else ""
        lines.append(f"· {row.paid_at.astimezone(CST):%Y-%m-%d} {row.order_id} {yuan(row.amount_fen)} "
                     f"{row.payment_method}{refund}")
    return lines


def yuan(fen: int) -> str:
    return f"￥{fen // 100:,}.{fen % 100:02d}"
