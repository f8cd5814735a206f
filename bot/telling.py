"""Who a message is for, and what it is: the one call features use to tell someone
(`ctx.tell` in a push, `job.tell` in a job, `Teller(db, enqueue, now).tell` in a command or an
API call), ending in the outbound policy (bot/outbound.py).

A person is a Fan, a Member (reached through the account they follow), an openid of the push's
account (in a push) or (account id, openid). A text or a Media."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import queue_media, queue_texts, record_unreachable
from models import Fan, Member

NOBODY = "follows none of our accounts"


@dataclass(frozen=True)
class Media:
    """An image or voice by WeChat media id; `caption` says what it is (transcripts, expiry)."""

    kind: str
    media_id: str
    caption: str


@dataclass
class Teller:
    """`tell` for work that answers no push and is no job: an operator command, an API call."""

    db: Session
    enqueue: object
    now: datetime

    def tell(self, person, what) -> None:
        tell_in_job(self, person, what)


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
        unreachable(ctx.db, person, what, ctx.now)
    elif where[0] != ctx.account.id:
        queue(ctx.db, ctx.enqueue, ctx.now, *where, what)
    elif isinstance(what, Media):
        ctx.outbox.send_media(where[1], what.kind, what.media_id, what.caption)
    else:
        ctx.outbox.send(where[1], what)     # the sender's: the passive reply (bot/outbound.py)


def tell_in_job(job, person, what) -> None:
    where = reach(job.db, person, None)
    if where is None:
        unreachable(job.db, person, what, job.now)
    else:
        queue(job.db, job.enqueue, job.now, *where, what)


def queue(db: Session, enqueue, now, account_id: int, openid: str, what) -> None:
    """Pending for (account, openid), out by the next channel (bot/outbound.py)."""
    if isinstance(what, Media):
        queue_media(db, enqueue, account_id, openid, what.kind, what.media_id, what.caption, now)
    else:
        queue_texts(db, enqueue, account_id, openid, [what], now)


def unreachable(db: Session, member: Member, what, now) -> None:
    # Only a member can be unreachable: a fan or an openid is always written to.
    if isinstance(what, Media):
        record_unreachable(db, member, what.caption, now, NOBODY, what.kind, what.media_id)
    else:
        record_unreachable(db, member, what, now, NOBODY)
