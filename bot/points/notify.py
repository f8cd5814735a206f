"""Telling members what changed (earned, reversed, expiring, level), through the outbound policy."""
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbox, queue_texts
from models import Fan

log = logging.getLogger(__name__)


def primary_fan(db: Session, member_id: int, prefer_account: int | None = None) -> Fan | None:
    """The follower row to reach a member through: on `prefer_account` if they follow it there,
    else the account they followed most recently."""
    query = select(Fan).where(Fan.member_id == member_id, Fan.following)
    fans = list(db.scalars(query.order_by(Fan.followed_at.desc(), Fan.id.desc())))
    return next((f for f in fans if f.account_id == prefer_account), fans[0] if fans else None)


def _sender(db: Session, outbox: Outbox | None) -> Fan | None:
    if outbox is None or outbox.recipient is None:
        return None
    return db.scalar(select(Fan).where(Fan.account_id == outbox.account.id, Fan.openid == outbox.recipient))


def deliver(db: Session, notices: list[tuple[int, str]], enqueue, now: datetime,
            outbox: Outbox | None = None) -> None:
    """One message per member (their notices joined, in order): in the passive reply when the
    member is the person being answered, else pending for a customer-service message."""
    if not notices:
        return
    texts: dict[int, list[str]] = {}
    for member_id, text in notices:
        texts.setdefault(member_id, []).append(text)
    sender = _sender(db, outbox)
    for member_id, lines in texts.items():
        if sender is not None and sender.member_id == member_id:
            # The person being answered right now is reachable whatever we know of their follow
            # state (a fan we first saw writing was never seen following).
            outbox.send(sender.openid, "\n".join(lines))
            continue
        fan = primary_fan(db, member_id, outbox.account.id if outbox else None)
        if fan is None:
            # Nobody to write to: the member follows none of our accounts any more. The
            # ledger keeps the change; "积分" shows it when they come back.
            log.debug("points notice not sent: member %s follows no account", member_id)
            continue
        if outbox is not None and fan.account_id == outbox.account.id:
            outbox.send(fan.openid, "\n".join(lines))
        else:
            queue_texts(db, enqueue, fan.account_id, fan.openid, ["\n".join(lines)], now)
