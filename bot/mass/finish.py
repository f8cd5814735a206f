"""MASSSENDJOBFINISH (WECHAT-PLATFORM.md §3.3): WeChat's counts for a send, kept on its row."""
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.mass import FINISHED, MassSend


def record_finish(db: Session, account_id: int, msg_id: int, status: str, total: int, filtered: int,
                  sent: int, errors: int, now: datetime) -> MassSend | None:
    """The send WeChat finished, with its counts; None for a msg_id we did not send (logged by
    the caller). A repeat of the event writes the same values again."""
    send = db.scalar(select(MassSend).where(MassSend.account_id == account_id, MassSend.msg_id == msg_id))
    if send is None:
        return None
    send.status, send.finish_status, send.finished_at = FINISHED, (status or "")[:64], now
    send.total_count, send.filter_count, send.sent_count, send.error_count = total, filtered, sent, errors
    db.flush()
    return send
