"""Delivering what the outbound policy kept pending (bot/outbound.py has the rules).

A run claims what it will send and commits (rows SENDING), calls WeChat with no transaction
open, then settles in a second transaction (sent rows SENT, the rest PENDING again). So no
database lock (on SQLite the database-wide write lock) waits on WeChat, and a run that dies
inside a call leaves its rows SENDING: the next run marks them UNCONFIRMED rather than send
them twice, since WeChat may already have shown them (WECHAT-PLATFORM.md §4.7 has no
idempotency key for customer-service messages).
"""
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, select, update

from bot.capabilities import Cap, for_account
from bot.outbound import SEPARATOR, CsWindow, batches, enqueue_delivery, mark_sent, pending_for
from bot.wechat import BUDGET_USED, RETRYABLE, WINDOW_CLOSED, Client, WeChatError
from models import Account, OutboundMessage
from models.outbound import IMAGE, MEDIA, NEWS, PENDING, SENDING, TEXT, UNCONFIRMED, VOICE
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)
# Temporary media live 3 days (WECHAT-PLATFORM.md §3.4); an hour's margin for the send itself.
MEDIA_SENDABLE = timedelta(days=3) - timedelta(hours=1)
# A delivery job normally runs within seconds of its rows' commit; older untouched rows lost it.
SWEEP_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 1000


@dataclass
class Claim:
    """What one run took: the account, a client, the batches it holds slots for, in order."""

    account: Account
    client: Client
    window: CsWindow
    groups: list[list[OutboundMessage]]
    slots: list[str]
    rest: list[OutboundMessage] = field(default_factory=list)   # no slot: stays pending


def deliver_pending(account_id: int, openid: str) -> None:
    """Sends a person what waits for them: customer-service messages while their window and
    budget allow, else one template notice where the account may send one, else nothing
    (it rides along with their next passive reply). Safe to run twice: rows are claimed
    before the call and settled after it.

    WeChat busy (-1), a minute quota (45011) or no answer: rq retries the job (5 s, 15 s, 60 s);
    the last attempt does not raise but goes on to the notice, and what is still left waits
    for the person's next passive reply, so no message waits on retries forever."""
    final = last_attempt()
    with job_scope() as job:
        claim = _claim(job, account_id, openid)
    if claim is None:
        return
    sent, error = _send_claimed(claim, openid)
    with job_scope() as job:
        left = _settle(job, claim, openid, sent, error)
    if error is not None and error.retryable and sent == 0 and not final:
        raise error     # nothing sent yet: rq retries the job (Retry set by the Outbox)
    account = claim.account
    if left and for_account(account).allows(Cap.TEMPLATE) and account.notice_template_id:
        _notice(claim, openid, left, may_raise=sent == 0 and not final, retry_later=not final)
    elif left:
        log.info("pending stays account=%s openid=%s count=%d", account.slug, openid, len(left))


def sweep_pending() -> int:
    """Asks again for the delivery of rows no run ever took up (the job asked for them was lost:
    Redis was down when it was queued, or lost its queue) and of claims a dead run left behind.
    Rows a run already took up and left waiting (no window, no budget) wait for the person's
    next passive reply, as that run decided: the sweep does not call WeChat for them again.
    How many people it asked for (at most SWEEP_BATCH a run; the next run takes the rest)."""
    with job_scope() as job:
        now, lease = job.now, timedelta(seconds=job.app.config["DELIVERY_CLAIM_LEASE_S"])
        never_taken = (OutboundMessage.status == PENDING) & OutboundMessage.claimed_at.is_(None) \
            & (OutboundMessage.created_at < now - SWEEP_AFTER)
        dead_claim = (OutboundMessage.status == SENDING) & (OutboundMessage.claimed_at < now - lease)
        people = job.db.execute(select(OutboundMessage.account_id, OutboundMessage.openid)
                                .where(or_(never_taken, dead_claim), OutboundMessage.openid.is_not(None))
                                .group_by(OutboundMessage.account_id, OutboundMessage.openid)
                                .limit(SWEEP_BATCH)).all()
        for account_id, openid in people:
            enqueue_delivery(job.enqueue, account_id, openid)
    if people:
        log.warning("sweep: asked again for %d delivery job(s) that never ran", len(people))
    return len(people)


def _claim(job, account_id: int, openid: str) -> Claim | None:
    """Mark what this run sends SENDING (one window slot per batch), in a short transaction."""
    account = job.db.get(Account, account_id)
    if account is None:
        return None
    _give_up_dead_claims(job, account_id, openid)
    rows = pending_for(job.db, account_id, openid)
    if not rows:
        return None
    for row in rows:
        _expire_media(row, job.now)
    claim = Claim(account, job.client(account), CsWindow(job.redis, account.slug, openid), [], [])
    groups = batches(rows) if for_account(account).allows(Cap.CUSTOM_MESSAGE) else []
    for n, batch in enumerate(groups):
        slot = claim.window.take(job.clock.timestamp())
        if slot is None:
            claim.rest = [row for g in groups[n:] for row in g]
            break
        claim.groups.append(batch)
        claim.slots.append(slot)
    if not groups:
        claim.rest = rows
    for row in (row for g in claim.groups for row in g):
        row.status = SENDING
    for row in rows:
        row.claimed_at = job.now      # a run took it up: the sweep leaves it to its next trigger
    return claim


def _give_up_dead_claims(job, account_id: int, openid: str) -> None:
    """Rows a dead run left SENDING: WeChat may have shown them, so they are not sent again;
    they stay on record as UNCONFIRMED, and the log says how many."""
    lease = timedelta(seconds=job.app.config["DELIVERY_CLAIM_LEASE_S"])
    stale = (OutboundMessage.account_id == account_id, OutboundMessage.openid == openid,
             OutboundMessage.status == SENDING, OutboundMessage.claimed_at < job.now - lease)
    ids = list(job.db.scalars(select(OutboundMessage.id).where(*stale)))
    if ids:
        job.db.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(status=UNCONFIRMED))
        log.warning("delivery died in a call earlier: %d message(s) unconfirmed, not sent again "
                    "account_id=%s", len(ids), account_id)


def _send_claimed(claim: Claim, openid: str) -> tuple[int, WeChatError | None]:
    """Send the claimed batches in order, outside any transaction: how many went, and the
    error that stopped the rest (None when all went)."""
    for n, batch in enumerate(claim.groups):
        try:
            _send(claim.client, openid, batch)
        except WeChatError as exc:
            return n, exc
    return len(claim.groups), None


def _settle(job, claim: Claim, openid: str, sent: int, error: WeChatError | None) -> list:
    """Sent batches SENT; the failed batch and the ones after it PENDING again, their slots
    given back (the failed one's only when WeChat refused it, since a timeout may have sent).
    Returns the rows still pending, read again in this transaction."""
    claimed = [row.id for g in claim.groups for row in g]
    ids = [*claimed, *(row.id for row in claim.rest)]
    rows = {r.id: r for r in job.db.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids)))}
    done = {row.id for g in claim.groups[:sent] for row in g}
    mark_sent([rows[i] for i in claimed if i in done], "custom", job.now)
    for i in claimed:
        if i not in done:
            rows[i].status = PENDING
    if error is not None:
        if error.errcode == WINDOW_CLOSED:
            claim.window.close()
        elif error.errcode == BUDGET_USED:
            claim.window.exhaust()
        else:
            # The batches after the failed one were never tried: their slots go back, and the
            # failed one's too when WeChat refused it (busy, quota) rather than timed out.
            unused = claim.slots[sent + (0 if error.errcode in RETRYABLE else 1):]
            for slot in unused:
                claim.window.give_back(slot)
        log.warning("custom message refused account=%s openid=%s: %s", claim.account.slug, openid, error)
    return [rows[i] for i in ids if i not in done]


def _expire_media(row: OutboundMessage, now) -> None:
    if row.msg_type in MEDIA and now - row.created_at > MEDIA_SENDABLE:
        # Its media id has expired at WeChat: say what it was rather than lose it silently.
        row.msg_type, row.media_id = TEXT, None
        row.content = f"{row.content}（已过期，未能送达，请重新获取）"


def _send(client, openid: str, batch: list) -> None:
    """One customer-service message: merged texts, one image or voice by media id, or one news
    card (one article, §4.7)."""
    first = batch[0]
    if first.msg_type == NEWS:
        client.message.send_articles(openid, [json.loads(first.content)])
    elif first.msg_type == IMAGE:
        client.message.send_image(openid, first.media_id)
    elif first.msg_type == VOICE:
        client.message.send_voice(openid, first.media_id)
    else:
        client.message.send_text(openid, SEPARATOR.join(row.content for row in batch))


def _notice(claim: Claim, openid: str, left: list, may_raise: bool, retry_later: bool) -> None:
    """One template notice per batch of waiting messages ("N 条新消息，回复任意内容查看"),
    sent outside any transaction, then recorded on the rows it announced."""
    if any(row.noticed_at for row in left):
        return
    account = claim.account
    try:
        claim.client.message.send_template(openid, account.notice_template_id, {
            "count": {"value": f"{len(left)} 条新消息"},
            "hint": {"value": "回复任意内容查看"},
        })
    except WeChatError as exc:
        if exc.retryable and may_raise:
            raise
        if exc.retryable and retry_later:
            # CS messages this run sent are settled as sent: a fresh job tries the notice,
            # with rq's backoff if still busy. Not from a last attempt: a fresh job each time
            # would retry without end.
            with job_scope() as job:
                enqueue_delivery(job.enqueue, account.id, openid)
        log.warning("template notice refused account=%s openid=%s: %s", account.slug, openid, exc)
        return
    with job_scope() as job:
        job.db.execute(update(OutboundMessage).where(OutboundMessage.id.in_([r.id for r in left]))
                       .values(noticed_at=job.now))
