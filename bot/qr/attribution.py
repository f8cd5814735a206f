"""What a follow, scan, unfollow or conversion means for our codes: one QrEvent each, and the
fan's first-touch attribution.

Who is credited (models/qr.py, QrEvent):
- a follow or scan through one of our codes credits that code (`scanned`);
- a follow or scan through a scene that is not ours (another system's code, an unknown id, a
  code of another account) credits no code, and keeps the raw scene;
- a plain re-follow (no code), an unfollow and a conversion credit the fan's attributed code,
  so "net follows" of a code adds up: its fans' unfollows and plain returns are its own.
Attribution is first touch: set at the first follow through one of our codes, never moved by
a later scan or follow. A fan already following who scans gets no attribution (the scan did
not bring them). Moving a fan is an operator's act (bot/qr/move.py).

WeChat re-delivers a push it got no answer to (WECHAT-PLATFORM.md §2); the webhook dedupes
those before any handler runs, so each push here is recorded once.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.qr import scene as scenes
from models import Account, Fan, QrCode, QrEvent
from models.qr import CONVERTED, FOLLOW, REFOLLOW, SCAN, UNFOLLOW

MAX_ID = 2**31 - 1       # qr_code.id is an INTEGER: a larger number is no code of ours


@dataclass
class Touch:
    """One follow or scan, as the handler needs it for its reply."""
    kind: str                    # FOLLOW, REFOLLOW or SCAN
    code: QrCode | None          # our code scanned, if it was one
    scene: str | None            # the raw scene, ours or not


def code_for(db: Session, account: Account, event_key: str | None) -> tuple[str | None, QrCode | None]:
    """(raw scene, our code) behind an EventKey; the code is None for a scene that is not ours."""
    raw = scenes.scene_of(event_key)
    code_id = scenes.code_id(event_key)
    if code_id is None or code_id > MAX_ID:
        return raw, None
    code = db.get(QrCode, code_id)
    if code is None or code.account_id != account.id:    # deleted, or another account's code
        return raw, None
    return raw, code


def followed(db: Session, account: Account, fan: Fan, event_key: str | None, now: datetime) -> Touch:
    """A subscribe push (plain or through a code): kind, event row, first-touch attribution.
    Call it before the fan's follow counters change: a returning fan is one who followed before."""
    returning = fan.follow_count > 0 or fan.unfollowed_at is not None
    raw, code = code_for(db, account, event_key)
    kind = REFOLLOW if returning else FOLLOW
    if code is not None and not attributed(fan):
        fan.source_code_id, fan.store_id, fan.staff_id = code.id, code.store_id, code.staff_id
        fan.attributed_at = now
    if code is not None:
        credited = code.id
    elif raw is None:
        credited = fan.source_code_id        # a plain (re-)follow: the fan's own code
    else:
        credited = None                      # a scene not ours: no code of ours brought them
    record(db, fan, kind, credited, now, scanned=raw is not None, scene=raw)
    return Touch(kind, code, raw)


def scanned(db: Session, account: Account, fan: Fan, event_key: str | None, now: datetime) -> Touch:
    """A SCAN push (the fan follows already): credits the code scanned, attributes nothing."""
    raw, code = code_for(db, account, event_key)
    record(db, fan, SCAN, code.id if code is not None else None, now, scanned=True, scene=raw)
    return Touch(SCAN, code, raw)


def unfollowed(db: Session, fan: Fan, now: datetime) -> None:
    """Credits the fan's attributed code: "unfollows of fans attributed to the code"."""
    record(db, fan, UNFOLLOW, fan.source_code_id, now)


def converted(db: Session, fan: Fan, now: datetime) -> bool:
    """The fan became a member: one conversion per fan, credited to their attributed code.
    True if this call recorded it. (Pushes of one fan are serialised by the fan lock.)"""
    seen = db.scalar(select(QrEvent.id).where(QrEvent.fan_id == fan.id, QrEvent.kind == CONVERTED).limit(1))
    if seen is not None:
        return False
    record(db, fan, CONVERTED, fan.source_code_id, now)
    return True


def attributed(fan: Fan) -> bool:
    """The fan has a first touch already (a code's, or a store an operator moved them to)."""
    return fan.source_code_id is not None or fan.store_id is not None or fan.attributed_at is not None


def record(db: Session, fan: Fan, kind: str, code_id: int | None, now: datetime, *, scanned: bool = False,
           scene: str | None = None) -> None:
    db.add(QrEvent(account_id=fan.account_id, fan_id=fan.id, code_id=code_id, kind=kind, scanned=scanned,
                   scene=scene, at=now))
    db.flush()
