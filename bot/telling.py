"""Who a message is for, and what it is: the one call features use to tell someone
(`ctx.tell` in a push, `job.tell` in a job), ending in the outbound policy (bot/outbound.py)."""
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import queue_media, queue_texts
from models import Fan, Member

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Media:
    """An image or voice by WeChat media id; `caption` says what it is (transcripts, expiry)."""

    kind: str
    media_id: str
    caption: str


def reach(db: Session, person, prefer_account: int | None) -> tuple[int, str] | None:
    """(account id, openid) to write to: a Fan as it is; a Member through the account they
    follow (`prefer_account` first, else the one followed last); None when nobody follows."""
    if isinstance(person, Fan):
        return person.account_id, person.openid
    if isinstance(person, Member):
        query = select(Fan).where(Fan.member_id == person.id, Fan.following)
        fans = list(db.scalars(query.order_by(Fan.followed_at.desc(), Fan.id.desc())))
        fan = next((f for f in fans if f.account_id == prefer_account), fans[0] if fans else None)
        return (fan.account_id, fan.openid) if fan else None
    account_id, openid = person
    return account_id, openid


def tell_in_push(ctx, person, what) -> None:
    if isinstance(person, str):
        person = (ctx.account.id, person)
    if isinstance(person, Member) and ctx.fan.member_id == person.id:
        person = ctx.fan     # the person being answered is reachable whatever their follow state
    where = reach(ctx.db, person, ctx.account.id)
    if where is None:
        log.info("notice not sent: nobody to reach (%s follows no account)", _who(person))
        return
    account_id, openid = where
    if isinstance(what, str) and account_id == ctx.account.id:
        ctx.outbox.send(openid, what)
    else:
        queue(ctx.db, ctx.enqueue, ctx.now, account_id, openid, what)


def tell_in_job(job, person, what) -> None:
    where = reach(job.db, person, None)
    if where is None:
        log.info("notice not sent: nobody to reach (%s follows no account)", _who(person))
        return
    queue(job.db, job.enqueue, job.now, *where, what)


def queue(db: Session, enqueue, now, account_id: int, openid: str, what) -> None:
    if isinstance(what, Media):
        queue_media(db, enqueue, account_id, openid, what.kind, what.media_id, what.caption, now)
    else:
        queue_texts(db, enqueue, account_id, openid, [what], now)


def _who(person) -> str:
    return f"member {person.id}" if isinstance(person, Member) else "fan"
