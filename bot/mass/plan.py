"""Who a mass send to a tag reaches, and how many of them WeChat's limits let through, from our
own records (WECHAT-PLATFORM.md §4.13): on a 服务号 each fan receives at most 4 mass messages a
month (China month); a verified 订阅号 has one successful mass send a day (China date).
Unverified accounts may not mass send (§5.1).
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.capabilities import Cap, for_account
from bot.clock import period_bounds
from models import Account, Fan, FanTag
from models.mass import FAILED, PLANNED, MassDelivery, MassSend

PER_FAN_PER_MONTH = 4        # §4.13, 服务号
PER_DAY_SUBSCRIPTION = 1     # §4.13, 订阅号


@dataclass
class Plan:
    carrying: int            # following fans with the tag here
    on_wechat: int           # of them, those WeChat carries the tag for (held back ones get nothing)
    within_limit: list[int]  # fan ids WeChat's limit lets through (by our count)
    refusal: str | None = None


def plan(db: Session, account: Account, tag: str, now: datetime) -> Plan:
    if not for_account(account).allows(Cap.MASS_SEND):
        return Plan(0, 0, [], f"{account.slug} may not mass send (an unverified account, WECHAT-PLATFORM.md §5.1)")
    rows = db.execute(select(Fan.id, FanTag.on_wechat).join(FanTag, FanTag.fan_id == Fan.id)
                      .where(Fan.account_id == account.id, Fan.following, FanTag.name == tag)).all()
    on_wechat = [fan_id for fan_id, on in rows if on]
    if account.type == "subscription":
        sent_today = db.scalar(select(func.count()).select_from(MassSend).where(
            MassSend.account_id == account.id, MassSend.status.not_in((PLANNED, FAILED)),
            MassSend.sent_at >= period_bounds("day", now)[0]))
        if sent_today >= PER_DAY_SUBSCRIPTION:
            return Plan(len(rows), len(on_wechat), [], "the subscription account has sent its one mass "
                                                       "message today (§4.13); send tomorrow")
        return Plan(len(rows), len(on_wechat), on_wechat)
    received = dict(db.execute(select(MassDelivery.fan_id, func.count()).where(
        MassDelivery.fan_id.in_(on_wechat or [0]), MassDelivery.at >= period_bounds("month", now)[0])
        .group_by(MassDelivery.fan_id)).all()) if on_wechat else {}
    return Plan(len(rows), len(on_wechat), [f for f in on_wechat if received.get(f, 0) < PER_FAN_PER_MONTH])


def record_deliveries(db: Session, send: MassSend, fan_ids: list[int], now: datetime) -> None:
    """Our own count: these fans received this send (what the next plan's limit reads)."""
    if fan_ids:
        db.execute(insert(MassDelivery), [dict(send_id=send.id, fan_id=f, at=now) for f in fan_ids])
