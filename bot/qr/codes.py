"""Issuing codes: our rows first, then WeChat's tickets (the part every creator shares).

Parametric codes are for verified service accounts only (WECHAT-PLATFORM.md §4.2, 48001
elsewhere): `QrUnavailable` says so before any call. Permanent codes are capped at 100 000 per
account and can never be deleted, so the budget is counted here before WeChat is asked.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.capabilities import Cap, for_account
from bot.linking.hq import display_name, service_account
from bot.qr import scene
from models import Account, QrCode

PERMANENT_BUDGET = 100_000        # §4.2: permanent codes per account, for ever
MAX_TEMPORARY_DAYS = 30           # §4.2: expire_seconds ≤ 2 592 000
LABEL_MAX = 128                   # QrCode.label's column
LABEL_SEPARATOR = " · "


class QrUnavailable(Exception):
    """This account cannot have parametric codes, or the request breaks one of WeChat's limits."""


def check_account(account: Account) -> None:
    if not for_account(account).allows(Cap.QR_CODE):
        kind = "a verified" if account.verified else "an unverified"
        raise QrUnavailable(f"account {account.slug} is {kind} {account.type} account: parametric QR codes are "
                            "for verified service accounts only (WeChat answers 48001 elsewhere)")


def where_codes_are_made(db: Session, config) -> str:
    """Where a person of an account without codes can get one instead: the group's service
    account (bot/linking/hq.py, the same one subscription fans are led to; the same phone binds
    them there), else the administrator."""
    service = service_account(db, config)
    if service is None:
        return "请联系管理员开通已认证的服务号。"
    return f"请关注「{display_name(service)}」，用同一手机号绑定后在那里发送“海报”获取。"


def permanent_used(db: Session, account_id: int) -> int:
    return db.scalar(select(func.count()).select_from(QrCode).where(
        QrCode.account_id == account_id, QrCode.permanent)) or 0


def check_budget(db: Session, account: Account, wanted: int) -> None:
    """Refuse `wanted` more permanent codes if they would pass the budget (all or nothing:
    a half-made batch of codes that can never be deleted helps nobody)."""
    used = permanent_used(db, account.id)
    if used + wanted > PERMANENT_BUDGET:
        left = max(PERMANENT_BUDGET - used, 0)
        what = "a permanent code" if wanted == 1 else f"{wanted:,} permanent codes"
        raise QrUnavailable(f"account {account.slug} has used {used:,} of its {PERMANENT_BUDGET:,} permanent "
                            f"codes ({left:,} left, WeChat allows no more, §4.2): {what} would pass the "
                            "budget; use --temporary DAYS")


def check_days(temporary_days: int | None) -> None:
    if not 1 <= (temporary_days or 0) <= MAX_TEMPORARY_DAYS:
        raise QrUnavailable(f"a temporary code lives 1 to {MAX_TEMPORARY_DAYS} days "
                            "(WeChat's expire_seconds is at most 2 592 000, §4.2)")


def label_for(scene_str: str, store_name: str | None = None, staff_name: str | None = None,
              channel: str | None = None) -> str:
    """The line printed under a code: who it belongs to and its scene, e.g. "门店A · 张三 · qr42"."""
    parts = [part for part in (store_name, staff_name, channel) if part]
    text = LABEL_SEPARATOR.join(parts + [scene_str])
    if len(text) <= LABEL_MAX:
        return text
    # Too long for the column: shorten what comes before the scene, never the scene itself.
    head = LABEL_SEPARATOR.join(parts)[:LABEL_MAX - len(scene_str) - len(LABEL_SEPARATOR) - 1] + "…"
    return head + LABEL_SEPARATOR + scene_str


def new_codes(db: Session, account: Account, count: int, *, permanent: bool, now: datetime,
              temporary_days: int | None = None, label_parts: tuple = (), batch: str | None = None,
              **fields) -> list[QrCode]:
    """`count` rows for codes, with their scenes and labels, flushed but not yet known to
    WeChat (no ticket). `label_parts` are the store name, staff name and channel (or fewer);
    a `batch` numbers its rows 1..count."""
    check_account(account)
    if permanent:
        check_budget(db, account, count)
    else:
        check_days(temporary_days)
    rows = [QrCode(account_id=account.id, permanent=permanent, batch=batch,
                   batch_index=index if batch else None, **fields) for index in range(1, count + 1)]
    db.add_all(rows)
    db.flush()                      # the ids, from which the scenes are made
    for code in rows:
        code.scene = scene.make(code.id)
        code.label = label_for(code.scene, *label_parts)
        if not permanent:
            # Counted from our asking; WeChat counts from its answer, a moment later (never sooner).
            code.expires_at = now + timedelta(days=temporary_days)
    db.flush()
    return rows


def new_code(db: Session, account: Account, *, permanent: bool, now: datetime,
             temporary_days: int | None = None, **fields) -> QrCode:
    """Our row for one code, with its scene, flushed but not yet known to WeChat (no ticket)."""
    return new_codes(db, account, 1, permanent=permanent, now=now, temporary_days=temporary_days,
                     **fields)[0]


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
