"""Becoming a member (or staff) by a verified phone, and naming a referrer.

A member is one person, keyed by phone; a fan of an account links to at most one member, and a
member to at most one fan per account (the unique index uq_fan_account_member decides a race:
two fans binding one phone at the same moment, exactly one wins).
"""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.binding.roles import MEMBER_ROLE, STAFF_ROLE, set_role
from bot.phones import mask_phone
from bot.points.engine import fire
from bot.points.ledger import Book
from bot.qr import attribution
from models import Award, Fan, Member, Referral, Staff


@dataclass
class Bound:
    member: Member | None            # None: the phone belongs to another fan of this account
    staff: Staff | None = None
    returning: bool = False          # an imported member of the old CRM, recognised
    new: bool = False                # this binding created the member: the only time to name a referrer
    awards: list[Award] = field(default_factory=list)


def holder(db: Session, account_id: int, phone: str, fan: Fan) -> Fan | None:
    """Another fan of this account already bound to `phone`, if any."""
    return db.scalar(select(Fan).join(Member, Fan.member_id == Member.id).where(
        Fan.account_id == account_id, Member.phone == phone, Fan.id != fan.id))


def bind(book: Book, fan: Fan, phone: str, enqueue) -> Bound:
    """Link the fan to the member with this verified phone (created if new) and give them their
    role: staff when the phone is on the active roster, else member with the bind (and follow)
    awards. A phone another fan of this account holds is refused, even if it wins a race."""
    db = book.db
    member, created = None, False
    for _ in range(2):                    # a second look after losing a race on an insert
        try:
            with db.begin_nested():
                if holder(db, fan.account_id, phone, fan) is not None:
                    return Bound(None)
                member = db.scalar(select(Member).where(Member.phone == phone))
                created = member is None
                if member is None:
                    member = Member(phone=phone, level="", created_at=book.now)
                    db.add(member)
                    db.flush()
                fan.member_id = member.id
                db.flush()
            break
        except IntegrityError:
            member = None
    if member is None:
        return Bound(None)
    # Issue #5: a conversion for the code that brought the fan (once per fan).
    attribution.converted(db, fan, book.now)
    # Locked: a roster import deactivating this row at the same moment is waited for and seen.
    staff = db.scalar(select(Staff).where(Staff.phone == phone, Staff.active).with_for_update())
    if staff is not None:
        staff.member_id = member.id
        member.home_store_id = member.home_store_id or staff.store_id
        set_role(fan, STAFF_ROLE, enqueue)
        return Bound(member, staff=staff, returning=member.imported, new=created)
    member.home_store_id = member.home_store_id or fan.store_id     # first-touch store
    set_role(fan, MEMBER_ROLE, enqueue)
    awards = fire(book, member.id, "bind", "member", member.id)
    if fan.following:
        awards += fire(book, member.id, "follow", "fan", fan.id)   # followed before binding
    return Bound(member, returning=member.imported, new=created, awards=awards)


def refer(book: Book, referee: Member, phone: str) -> tuple[str, int] | None:
    """Record that the member with `phone` referred `referee`: (masked referee phone, points
    the referrer got), or None when `phone` is no member, is the referee, or a referral exists."""
    db = book.db
    referrer = db.scalar(select(Member).where(Member.phone == phone))
    if referrer is None or referrer.id == referee.id:
        return None
    if db.scalar(select(Referral.id).where(Referral.referee_id == referee.id)) is not None:
        return None
    db.add(Referral(referee_id=referee.id, referrer_id=referrer.id, created_at=book.now))
    db.flush()
    source = ("referral", referee.id)
    paid = sum(a.points for a in fire(book, referrer.id, "referral_referrer", *source) if a in book.decided)
    fire(book, referee.id, "referral_referee", *source)
    masked = mask_phone(referee.phone)
    book.retell(referrer, f"您推荐的新会员 {masked} 已注册" + (f"，获得 {paid} 积分。" if paid else "。"))
    return masked, paid
