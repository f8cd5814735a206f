"""Issuing one code: our row first, then WeChat's ticket (the part every creator shares).

Parametric codes are for verified service accounts only (WECHAT-PLATFORM.md §4.2, 48001
elsewhere): `QrUnavailable` says so before any call. Permanent codes are capped at 100 000 per
account and can never be deleted, so the budget is counted here before WeChat is asked.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.capabilities import Cap, for_account
from bot.qr import scene
from models import Account, QrCode

PERMANENT_BUDGET = 100_000        # §4.2: permanent codes per account, for ever
MAX_TEMPORARY_DAYS = 30           # §4.2: expire_seconds ≤ 2 592 000


class QrUnavailable(Exception):
    """This account cannot have parametric codes, or the request breaks one of WeChat's limits."""


def check_account(account: Account) -> None:
    if not for_account(account).allows(Cap.QR_CODE):
        kind = f"{'verified' if account.verified else 'unverified'} {account.type}"
        raise QrUnavailable(f"account {account.slug} is a {kind} account: parametric QR codes are "
                            "for verified service accounts only (WeChat answers 48001 elsewhere)")


def permanent_used(db: Session, account_id: int) -> int:
    return db.scalar(select(func.count()).select_from(QrCode).where(
        QrCode.account_id == account_id, QrCode.permanent)) or 0


def new_code(db: Session, account: Account, *, permanent: bool, now: datetime,
             temporary_days: int | None = None, **fields) -> QrCode:
    """Our row for a code, with its scene, flushed but not yet known to WeChat (no ticket)."""
    check_account(account)
    if permanent and permanent_used(db, account.id) >= PERMANENT_BUDGET:
        raise QrUnavailable(f"account {account.slug} has used all {PERMANENT_BUDGET} permanent codes; "
                            "use --temporary DAYS")
    if not permanent and not 1 <= (temporary_days or 0) <= MAX_TEMPORARY_DAYS:
        raise QrUnavailable(f"a temporary code lives 1 to {MAX_TEMPORARY_DAYS} days")
    code = QrCode(account_id=account.id, permanent=permanent, **fields)
    db.add(code)
    db.flush()
    code.scene = scene.make(code.id)
    if not permanent:
        # Counted from our asking; WeChat counts from its answer, a moment later (never sooner).
        code.expires_at = now + timedelta(days=temporary_days)
    return code


def obtain_ticket(client, code: QrCode, now: datetime) -> None:
    """Ask WeChat for the code's ticket and url (nothing to do if it has them already). For a
    permanent code, WeChat answers the same scene with the same code, so asking again after an
    interruption creates nothing new; a temporary code lost that way just expires unused."""
    if code.ticket:
        return
    body = {"action_info": {"scene": {"scene_str": code.scene}}}
    if code.permanent:
        body["action_name"] = "QR_LIMIT_STR_SCENE"
    else:
        body["action_name"] = "QR_STR_SCENE"
        body["expire_seconds"] = max(60, int((code.expires_at - now).total_seconds()))
    answer = client.qrcode.create(body)
    code.ticket, code.url = answer["ticket"], answer["url"]
