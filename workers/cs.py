"""Customer-service jobs: the queue, the minute sweep, WeChat kf sessions.

Every job takes ids, opens its own transactions and is safe to run twice: assignments and
closes re-check the conversation under its lock, reminders are stamped, kf calls that already
took effect are mirrored rather than repeated (WECHAT-PLATFORM.md §4.10).
"""
import logging

from sqlalchemy import select

from bot.cs import kf, relay, timeouts
from bot.cs.lifecycle import assign_waiting
from bot.wechat import WeChatError
from models import Account, Fan
from models.cs import WAITING, Conversation
from workers.runtime import job_scope

log = logging.getLogger(__name__)


def relay_backlog(job, account_id: int) -> None:
    """What fans wrote while waiting (or to an agent who lost them) goes to their new agent now,
    in order, rather than with that agent's next push."""
    relay.sweep(job.db, account_id, job.tell)


def drain_queue(account_id: int) -> None:
    """Gives waiting fans of the account to agents with room, oldest first; their backlog follows."""
    with job_scope() as job:
        served = assign_waiting(job.db, account_id, job.now, job.tell, job.enqueue)
        if served:
            relay_backlog(job, account_id)
    if served:
        log.info("cs queue drained account_id=%s assigned=%d", account_id, served)


def sweep() -> None:
    """Every minute: idle closes, no-answer reminders and reassignments, then the queues (room
    freed by shift or capacity changes is used within a minute). One transaction per action, so
    one conversation that fails does not hold up the others."""
    with job_scope() as job:
        limits = timeouts.Limits.from_config(job.app.config)
        work = timeouts.due(job.db, job.now, limits)
        owners = dict(job.db.execute(select(Conversation.id, Conversation.account_id)
                                     .where(Conversation.id.in_([c for _, c in work]))).all()) if work else {}
    for action, conversation_id in work:
        try:
            with job_scope() as job:
                timeouts.run(job.db, action, conversation_id, job.now, limits,
                             job.tell, job.enqueue)
                relay_backlog(job, owners[conversation_id])      # a reassigned conversation's unread
        except Exception:
            log.exception("cs sweep %s failed conversation_id=%s", action, conversation_id)
    with job_scope() as job:
        accounts = job.db.scalars(select(Conversation.account_id).where(Conversation.status == WAITING)
                                  .distinct()).all()
    for account_id in accounts:
        drain_queue(account_id)


def create_kf_session(conversation_id: int) -> None:
    """kfsession/create for the conversation's kf agent (§4.10). 61459 (that kf is offline): the
    next eligible kf agent, else our relay, else the queue, and the fan is told which. 61458 (the
    fan is already with another kf): mirror who has them. Calls run outside the transaction."""
    for _ in range(kf.MAX_ATTEMPTS):
        with job_scope() as job:
            target = kf.session_target(job.db, conversation_id)
            if target is None:
                return
            account = job.db.get(Account, target.account_id)
            client = job.client(account)
        try:
            client.customservice.create_session(target.openid, target.kf_account)
            return
        except WeChatError as exc:
            if exc.errcode == kf.ALREADY_SERVED:
                serving = client.customservice.get_session(target.openid).get("kf_account") or ""
                with job_scope() as job:
                    kf.mirror_served(job.db, conversation_id, serving, job.now, job.tell)
                return
            if exc.errcode != kf.KF_OFFLINE:
                raise
        with job_scope() as job:
            kf.offline(job.db, conversation_id, target.kf_account, job.now, job.tell,
                       job.enqueue)
    log.warning("kf session not created after %d tries conversation_id=%s", kf.MAX_ATTEMPTS, conversation_id)


def close_kf_session(conversation_id: int) -> None:
    """kfsession/close for a kf-mode conversation we closed (idle, the operator). The session may
    be gone already (the kf closed it, or WeChat's own timeout): that is the outcome we want."""
    with job_scope() as job:
        conversation = job.db.get(Conversation, conversation_id)
        if conversation is None or not conversation.kf_account:
            return
        account = job.db.get(Account, conversation.account_id)
        openid = job.db.get(Fan, conversation.fan_id).openid
        client = job.client(account)
        kf_account = conversation.kf_account
    try:
        client.customservice.close_session(openid, kf_account)
    except WeChatError as exc:
        if exc.errcode not in kf.NO_SESSION:
            raise
        log.info("kf session already closed conversation_id=%s errcode=%s", conversation_id, exc.errcode)
