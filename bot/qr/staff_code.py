"""A staff member's own code on one account, the one their poster carries.

Temporary codes: any number of them, but at most 30 days each (WECHAT-PLATFORM.md §4.2);
permanent ones come out of a budget of 100 000 for ever, too dear for every staff member's
poster. A poster is shared for days after it is made, so a code with 3 days or less to live is
not handed out again: the staff member gets a new 30-day one. The code carries the staff
member's store and id, so scans through it are attributed to them; it applies no tags.
"""
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.qr.codes import MAX_TEMPORARY_DAYS, new_code, obtain_ticket
from models import Account, QrCode, Staff, Store

CHANNEL = "poster"
LIFETIME_DAYS = MAX_TEMPORARY_DAYS       # §4.2: the longest a temporary code lives
RENEW_BEFORE = timedelta(days=3)         # a code closer than this to expiry is not reused


def reusable(db: Session, account: Account, staff: Staff, now: datetime) -> QrCode | None:
    """The staff member's poster code on this account with more than 3 days left, for their
    current store (one made before they moved store would credit the old one)."""
    return db.scalar(
        select(QrCode).where(QrCode.account_id == account.id, QrCode.staff_id == staff.id,
                             QrCode.store_id == staff.store_id, QrCode.channel == CHANNEL,
                             QrCode.permanent.is_(False), QrCode.expires_at > now + RENEW_BEFORE)
        .order_by(QrCode.expires_at.desc(), QrCode.id.desc()).limit(1))


def ensure(db: Session, client, account: Account, staff: Staff, now: datetime) -> QrCode:
    """The staff member's code with its ticket and url: the live one, else a new 30-day one.
    Raises QrUnavailable for an account without parametric codes (before any call), and
    WeChatError when WeChat refuses the new code."""
    code = reusable(db, account, staff, now)
    if code is None:
        code = new_code(db, account, permanent=False, now=now, temporary_days=LIFETIME_DAYS,
                        store_id=staff.store_id, staff_id=staff.id, channel=CHANNEL)
        store = db.get(Store, staff.store_id)
        code.label = f"{store.name} · {staff.name} · 海报"[:128]
    obtain_ticket(client, code, now)
    return code
