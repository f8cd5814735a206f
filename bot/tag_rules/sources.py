"""The behaviours a tag rule counts, each a query of (fan_id, row_id, at) over the rows that
record it. Everything a fan does is already a row (DESIGN.md, "Who is who"): pushes are event
rows (their WeChat type and key), binds are conversions, purchases and mall orders belong to
the member (every fan of that member counts them), conversations belong to the fan.

`table` names the watermark an incremental run keeps for the source (its highest row id seen).
"""
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import and_, select

from models import Conversation, Event, Fan, MallOrder, Purchase, QrCode, QrEvent
from models.mall import CANCELLED
from models.qr import CONVERTED


@dataclass(frozen=True)
class Behaviour:
    table: str                           # watermark key: which table's ids it reads
    filters: tuple[str, ...]             # the optional fields a condition may narrow it by
    rows: Callable[[dict], object]       # leaf -> select(fan_id, row_id, at)


def _pushes(types: tuple[str, ...]):
    def rows(leaf: dict):
        query = (select(Fan.id.label("fan_id"), Event.id.label("row_id"), Event.sent_at.label("at"))
                 .join(Fan, and_(Fan.account_id == Event.account_id, Fan.openid == Event.openid))
                 .where(Event.type.in_(types), Event.outcome == "ok"))
        if "key" in leaf:
            query = query.where(Event.key == leaf["key"])
        if "code" in leaf:
            query = query.where(Event.key == leaf["code"])        # a scan's key is the code's scene
        if "channel" in leaf:
            query = query.join(QrCode, and_(QrCode.account_id == Event.account_id, QrCode.scene == Event.key)) \
                         .where(QrCode.channel == leaf["channel"])
        if "text" in leaf:
            query = query.where(Event.data["Content"].as_string() == leaf["text"])
        return query
    return rows


def _binds(leaf: dict):
    return select(QrEvent.fan_id.label("fan_id"), QrEvent.id.label("row_id"), QrEvent.at.label("at")) \
        .where(QrEvent.kind == CONVERTED)


def _purchases(leaf: dict):
    return select(Fan.id.label("fan_id"), Purchase.id.label("row_id"), Purchase.paid_at.label("at")) \
        .join(Fan, Fan.member_id == Purchase.member_id)


def _redemptions(leaf: dict):
    return select(Fan.id.label("fan_id"), MallOrder.id.label("row_id"), MallOrder.created_at.label("at")) \
        .join(Fan, Fan.member_id == MallOrder.member_id).where(MallOrder.status != CANCELLED)


def _conversations(leaf: dict):
    return select(Conversation.fan_id.label("fan_id"), Conversation.id.label("row_id"),
                  Conversation.opened_at.label("at"))


# The WeChat push types (bot/protocol.py kind()): WECHAT-PLATFORM.md §3.2, §3.3.
BEHAVIOURS: dict[str, Behaviour] = {
    "click": Behaviour("event", ("key",), _pushes(("click",))),
    "location": Behaviour("event", (), _pushes(("location", "location_report"))),
    "scan": Behaviour("event", ("code", "channel"), _pushes(("scan", "subscribe_scan"))),
    "follow": Behaviour("event", (), _pushes(("subscribe", "subscribe_scan"))),
    "keyword": Behaviour("event", ("text",), _pushes(("text",))),
    "bind": Behaviour("qr_event", (), _binds),
    "purchase": Behaviour("purchase", (), _purchases),
    "mall_redeem": Behaviour("mall_order", (), _redemptions),
    "cs_conversation": Behaviour("cs_conversation", (), _conversations),
}
# Behaviours a feature will add when it exists; a rule naming one is refused with the reason.
UNAVAILABLE: dict[str, str] = {
    "survey_complete": "surveys are not part of this system yet; add the rule when they are",
}
TABLES = {"event": Event, "qr_event": QrEvent, "purchase": Purchase, "mall_order": MallOrder,
          "cs_conversation": Conversation}
