"""One-time link tokens: made for a subscription fan, consumed by one service-account scan.

The token is the scene of a temporary QR_STR_SCENE code, "b:" + token (WECHAT-PLATFORM.md §5.3:
never the raw openid; scene_str ≤ 64 characters, §4.2). It lives as long as the code
(TOKEN_TTL); asking again while a token has more than REUSE_MARGIN left gives the same one, so a
fan who taps twice costs WeChat one code.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Account, Fan, LinkToken

TOKEN_TTL = timedelta(hours=1)          # §5.3: a temporary code, "shorter is better"
REUSE_MARGIN = timedelta(minutes=20)    # long enough to read the card and scan

UNKNOWN, OTHER_ACCOUNT, EXPIRED, USED, MINE, TAKEN = "unknown", "other", "expired", "used", "mine", "taken"


def offer(db: Session, fan: Fan, service: Account, now: datetime) -> LinkToken:
    """The fan's live token for `service` (a fresh one when none has enough time left)."""
    live = db.scalars(select(LinkToken).where(
        LinkToken.fan_id == fan.id, LinkToken.service_account_id == service.id,
        LinkToken.used_at.is_(None), LinkToken.expires_at > now + REUSE_MARGIN)
        .order_by(LinkToken.id.desc())).first()
    if live is not None:
        return live
    token = LinkToken(token=secrets.token_urlsafe(12), account_id=fan.account_id, fan_id=fan.id,
                      service_account_id=service.id, created_at=now, expires_at=now + TOKEN_TTL)
    db.add(token)
    db.flush()
    return token


@dataclass
class Claim:
    outcome: str                 # TAKEN (this scan took it), MINE (taken before by this fan), or why not
    token: LinkToken | None = None


def claim(db: Session, service: Account, scanner: Fan, value: str, now: datetime) -> Claim:
    """Take the token for `scanner`, once: a guarded UPDATE decides between two scanners at once."""
    token = db.scalar(select(LinkToken).where(LinkToken.token == value))
    if token is None:
        return Claim(UNKNOWN)
    if token.service_account_id != service.id:
        return Claim(OTHER_ACCOUNT, token)
    if token.used_at is not None:
        return Claim(MINE if token.used_by_fan_id == scanner.id else USED, token)
    if token.expires_at <= now:
        return Claim(EXPIRED, token)
    taken = db.execute(update(LinkToken).where(LinkToken.id == token.id, LinkToken.used_at.is_(None))
                       .values(used_at=now, used_by_fan_id=scanner.id)
                       .execution_options(synchronize_session=False)).rowcount
    db.refresh(token)
    if not taken:
        return Claim(MINE if token.used_by_fan_id == scanner.id else USED, token)
    return Claim(TAKEN, token)
