"""The short tag an agent sees on a fan's messages: "#12 138****0000 · 金卡 · 门店A".

The phone is masked as everywhere in chat (bot/phones.py); a fan who never bound a phone is
"粉丝#<fan id>"; the level is the policy's name for the member's level; the store is the
conversation's store (the fan's first-touch store, or where it was transferred).
"""
from sqlalchemy.orm import Session

from bot.phones import mask_phone
from bot.points.policy import current_policy
from models import Fan, Member, Store
from models.cs import Conversation


def label(db: Session, conversation: Conversation) -> str:
    fan = db.get(Fan, conversation.fan_id)
    member = db.get(Member, fan.member_id) if fan is not None and fan.member_id else None
    parts = [f"#{conversation.id}"]
    if member is None:
        parts.append(f"粉丝#{conversation.fan_id}")
    else:
        parts.append(mask_phone(member.phone))
    head = " ".join(parts)
    tail = []
    if member is not None:
        tail.append(current_policy(db).level_name(member.level))
    store = db.get(Store, conversation.store_id) if conversation.store_id else None
    tail.append(store.name if store else "未归属门店")
    return " · ".join([head, *tail])
