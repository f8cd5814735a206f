"""Two fans of different accounts found to be one person: one member, one history.

The member is the person (DESIGN.md, identity model), so points, growth and level need no
copying: the fan who had no member gets the other's, and the ledger is untouched. What belongs
to the fan row is carried from the subscription fan to the service-account fan: its tags and
its first-touch attribution (the subsidiary's store stays the person's store). Two fans that
are members with different phones stay apart: merging two ledgers is an operator's decision.
"""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.binding.roles import role_for, set_role
from bot.points.engine import fire
from bot.points.ledger import Book
from bot.qr.attribution import attributed
from bot.tags.fan_tags import give
from models import Account, Fan, FanLink, FanTag, Member
from models.account import SERVICE, SUBSCRIPTION
from models.link import PHONE

LINKED, SAME, NO_MEMBER, DIFFERENT, OCCUPIED = "linked", "same", "no_member", "different", "occupied"


@dataclass
class Joined:
    outcome: str
    member: Member | None = None
    notices: list = field(default_factory=list)     # the points book's notices, for delivery


def join(book: Book, sub_fan: Fan, service_fan: Fan, method: str, enqueue) -> Joined:
    """Make `sub_fan` and `service_fan` one person (safe to call again: nothing changes twice)."""
    db = book.db
    a, b = sub_fan.member_id, service_fan.member_id
    if a is not None and b is not None and a != b:
        return Joined(DIFFERENT, db.get(Member, b))
    member_id = a or b
    if member_id is not None and (a is None or b is None):
        target = service_fan if a is not None else sub_fan
        if _held_elsewhere(db, target, member_id):
            return Joined(OCCUPIED, db.get(Member, member_id))
        target.member_id = member_id
        db.flush()
        set_role(target, role_for(db, target), enqueue)
        if target.following:
            # The follow rule a member earns for following (another of) our accounts; keyed on
            # the fan, so a retry or a later follow push pays nothing more.
            fire(book, member_id, "follow", "fan", target.id)
    _record(db, sub_fan, service_fan, method, book.now)
    _carry(db, sub_fan, service_fan, enqueue)
    outcome = SAME if a is not None and a == b else (NO_MEMBER if member_id is None else LINKED)
    return Joined(outcome, db.get(Member, member_id) if member_id else None, book.notices)


def record_phone_link(db: Session, fan: Fan, now) -> list[Fan]:
    """A fan just bound a phone the member had bound on other accounts already (one member by
    today's rule): the links between this fan and those, recorded; the other fans."""
    if fan.member_id is None:
        return []
    others = list(db.scalars(select(Fan).where(Fan.member_id == fan.member_id, Fan.id != fan.id,
                                               Fan.account_id != fan.account_id)))
    mine = db.get(Account, fan.account_id)
    for other in others:
        theirs = db.get(Account, other.account_id)
        if mine.type == SUBSCRIPTION and theirs.type == SERVICE:
            _record(db, fan, other, PHONE, now)
        elif mine.type == SERVICE and theirs.type == SUBSCRIPTION:
            _record(db, other, fan, PHONE, now)
    return others


def linked_fan(db: Session, fan: Fan) -> Fan | None:
    """The fan of another account this one is linked to (the latest link)."""
    row = db.scalars(select(FanLink).where((FanLink.fan_id == fan.id) | (FanLink.service_fan_id == fan.id))
                     .order_by(FanLink.id.desc())).first()
    if row is None:
        return None
    return db.get(Fan, row.service_fan_id if row.fan_id == fan.id else row.fan_id)


def _held_elsewhere(db: Session, fan: Fan, member_id: int) -> bool:
    """Another fan of the same account is this member already (uq_fan_account_member)."""
    return db.scalar(select(Fan.id).where(Fan.account_id == fan.account_id, Fan.member_id == member_id,
                                          Fan.id != fan.id)) is not None


def _record(db: Session, sub_fan: Fan, service_fan: Fan, method: str, now) -> None:
    exists = db.scalar(select(FanLink.id).where(FanLink.fan_id == sub_fan.id,
                                                FanLink.service_fan_id == service_fan.id))
    if exists is None:
        try:
            with db.begin_nested():    # a scan and the UnionID job at once: the unique pair decides
                db.add(FanLink(account_id=sub_fan.account_id, fan_id=sub_fan.id,
                               service_fan_id=service_fan.id, method=method, linked_at=now))
        except IntegrityError:
            pass


def _carry(db: Session, sub_fan: Fan, service_fan: Fan, enqueue) -> None:
    names = list(db.scalars(select(FanTag.name).where(FanTag.fan_id == sub_fan.id)
                            .order_by(FanTag.created_at, FanTag.id)))
    give(db, service_fan, names, source=f"link:{sub_fan.id}", enqueue=enqueue)
    if attributed(sub_fan) and not attributed(service_fan):
        service_fan.source_code_id, service_fan.store_id = sub_fan.source_code_id, sub_fan.store_id
        service_fan.staff_id, service_fan.attributed_at = sub_fan.staff_id, sub_fan.attributed_at
    db.flush()
