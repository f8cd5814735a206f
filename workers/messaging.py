"""Delivering what the outbound policy kept pending (bot/outbound.py has the rules)."""
import logging

from datetime import timedelta

from bot.capabilities import Cap, for_account
from bot.outbound import SEPARATOR, CsWindow, batches, enqueue_delivery, mark_sent, pending_for
from bot.wechat import BUDGET_USED, RETRYABLE, WINDOW_CLOSED, WeChatError
from models import Account
from models.outbound import IMAGE, TEXT, VOICE
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)
# Temporary media live 3 days (WECHAT-PLATFORM.md §3.4); an hour's margin for the send itself.
MEDIA_SENDABLE = timedelta(days=3) - timedelta(hours=1)

def deliver_pending(account_id: int, openid: str) -> None:
    """Sends a person what waits for them: customer-service messages while their window and
    budget allow, else one template notice where the account may send one, else nothing
    (it rides along with their next passive reply). Safe to run twice: sent rows are marked
    in the same transaction, and rows are locked against a concurrent run.

    WeChat busy (-1), a minute quota (45011) or no answer: rq retries the job (5 s, 15 s, 60 s);
    the last attempt does not raise but goes on to the notice, and what is still left waits
    for the person's next passive reply, so no message waits on retries forever."""
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        rows = pending_for(job.db, account_id, openid) if account else []
        if not rows:
            return
        caps = for_account(account)
        final = last_attempt()
        left = rows
        if caps.allows(Cap.CUSTOM_MESSAGE):
            left = _send_custom(job, account, openid, rows, final)
        if left and caps.allows(Cap.TEMPLATE) and account.notice_template_id:
            # Nothing sent yet: a busy notice may fail the job (rq retries all of it).
            _notice(job, account, openid, left, may_raise=len(left) == len(rows) and not final,
                    retry_later=not final)
        if left:
            log.info("pending stays account=%s openid=%s count=%d", account.slug, openid, len(left))


def _send_custom(job, account, openid: str, rows: list, final: bool) -> list:
    """Merge into as few messages as fit, send while the window allows; what is left over."""
    window = CsWindow(job.redis, account.slug, openid)
    client = job.client(account)
    groups = batches(rows)
    for n, batch in enumerate(groups):
        slot = window.take(job.clock.timestamp())
        if slot is None:
            return [row for g in groups[n:] for row in g]
        try:
            _send(client, openid, batch, job.now)
        except WeChatError as exc:
            if exc.errcode == WINDOW_CLOSED:
                window.close()
            elif exc.errcode == BUDGET_USED:
                window.exhaust()
            elif exc.errcode in RETRYABLE:
                window.give_back(slot)     # refused, not sent (a timeout may have sent: kept)
            if exc.retryable and n == 0 and not final:
                raise    # nothing sent yet: rq retries the job (Retry set by the Outbox)
            # Batches already sent must commit as sent, so the rest waits for the next
            # trigger (a new message for them, or their next passive reply) instead.
            log.warning("custom message refused account=%s openid=%s: %s", account.slug, openid, exc)
            return [row for g in groups[n:] for row in g]
        mark_sent(batch, "custom", job.now)
        job.db.flush()
    return []


def _send(client, openid: str, batch: list, now) -> None:
    """One customer-service message: merged texts, or one image or voice by media id."""
    first = batch[0]
    if first.msg_type != TEXT and now - first.created_at > MEDIA_SENDABLE:
        # Its media id has expired at WeChat: say what it was rather than lose it silently.
        first.msg_type, first.media_id = TEXT, None
        first.content = f"{first.content}（已过期，未能送达，请重新获取）"
    if first.msg_type == IMAGE:
        client.message.send_image(openid, first.media_id)
    elif first.msg_type == VOICE:
        client.message.send_voice(openid, first.media_id)
    else:
        client.message.send_text(openid, SEPARATOR.join(row.content for row in batch))


def _notice(job, account, openid: str, left: list, may_raise: bool, retry_later: bool) -> None:
    """One template notice per batch of waiting messages ("N 条新消息，回复任意内容查看")."""
    if any(row.noticed_at for row in left):
        return
    try:
        job.client(account).message.send_template(openid, account.notice_template_id, {
            "count": {"value": f"{len(left)} 条新消息"},
            "hint": {"value": "回复任意内容查看"},
        })
    except WeChatError as exc:
        if exc.retryable and may_raise:
            raise
        if exc.retryable and retry_later:
            # CS messages this run sent must commit as sent (a retry of this job would send
            # them again): a fresh job tries the notice, with rq's backoff if still busy.
            # Not from a last attempt: a fresh job each time would retry without end.
            enqueue_delivery(job.enqueue, account.id, openid)
        log.warning("template notice refused account=%s openid=%s: %s", account.slug, openid, exc)
        return
    for row in left:
        row.noticed_at = job.now
