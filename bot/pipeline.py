"""One push, in order (DESIGN.md "One push, in order", steps 3-6; the webhook did 1-2).

dedup → open the CS window → fan lock → one transaction (fan, dispatch, event row, passive
reply) → commit → save conversation, flush jobs → cache the reply for WeChat's retries.
A handler that raises: roll back, keep the old conversation, drop its jobs, record the push
as failed, apologise. Nothing here calls WeChat.
"""
import logging
import time
from datetime import datetime, timezone

from flask import Flask
from redis.exceptions import LockNotOwnedError
from sqlalchemy import insert, select

from bot import keys
from bot.capabilities import for_account
from bot.context import Ctx
from bot.jobs import JobBuffer
from bot.outbound import CsWindow, Outbox, compose_passive
from bot.protocol import fingerprint, kind, raw, render_article, render_text, render_transfer
from bot.sessions import ConversationStore, Dedup
from models import Account, Event, Fan

log = logging.getLogger(__name__)

APOLOGY = "抱歉，刚才没有处理好，请稍后再试。"
# A repeat waits this long for the first delivery's reply; WeChat gives each delivery 5 s.
REPLAY_WAIT = 3.0
FAN_LOCK_WAIT = 3.0
# Replies to these are not shown to anyone (§2, §7.10); what waits for the person stays pending.
SILENT_KINDS = frozenset({"unsubscribe", "view", "location_report", "templatesendjobfinish",
                          "masssendjobfinish", "kf_create_session", "kf_close_session",
                          "kf_switch_session"})
_HEADER = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Event", "EventKey", "Encrypt"}


class FanBusy(Exception):
    """The fan's previous push still holds the lock: let WeChat deliver this one again."""


def handle_push(app: Flask, account: Account, msg, received: float | None = None) -> str:
    """The plaintext reply XML for `msg`, or "" for none; side effects happen once per push.
    `received`: time.monotonic() when the request arrived (now if not given)."""
    received = time.monotonic() if received is None else received
    ext = app.extensions
    redis, openid = ext["redis"], msg.source
    dedup = Dedup(redis, account.slug, fingerprint(msg))
    if not dedup.claim():
        replay = dedup.replay(REPLAY_WAIT)
        log.info("repeat push account=%s openid=%s replayed=%s", account.slug, openid, replay is not None)
        return replay or ""
    # WeChat opened the person's customer-service window whatever we make of the push.
    CsWindow(redis, account.slug, openid).opened_by(kind(msg), ext["clock"].timestamp())
    lock = redis.lock(keys.fan_lock(account.slug, openid), timeout=keys.FAN_LOCK_TTL,
                      blocking_timeout=FAN_LOCK_WAIT)
    if not lock.acquire():
        dedup.forget()
        raise FanBusy(openid)
    try:
        reply = run_turn(app, account, msg, received)
    except Exception:
        # run_turn answers handler errors itself; this is the database or Redis failing around
        # them. The fan gets the apology (never a 500, never silence) and so do WeChat's retries.
        log.exception("push failed account=%s openid=%s", account.slug, openid)
        reply = render_text(msg, APOLOGY)
    finally:
        try:
            lock.release()
        except LockNotOwnedError:  # expired while we worked: nothing left to release
            log.warning("fan lock expired before release account=%s openid=%s", account.slug, openid)
    dedup.remember(reply)
    return reply


def run_turn(app: Flask, account: Account, msg, received: float) -> str:
    ext = app.extensions
    now = ext["clock"].now()
    slug = account.slug      # read before the session: after a rollback it would be reloaded
    store = ConversationStore(ext["redis"], slug, msg.source)
    buffer = JobBuffer()
    db = ext["db"]()
    try:
        with db.begin():
            account = db.merge(account, load=False)
            fan = fan_for(db, account, msg.source, now)
            conv = store.load()
            outbox = Outbox(db, account, buffer, now, recipient=msg.source)
            ctx = Ctx(account=account, fan=fan, db=db, redis=ext["redis"], conv=conv, enqueue=buffer,
                      now=now, caps=for_account(account, app.config["STRICT_STATES"]),
                      config=app.config, outbox=outbox, msg=msg)
            turn = ext["dispatcher"].dispatch(ctx, msg)
            db.execute(insert(Event).values(event_fields(account, msg, "ok")))
            if kind(msg) in SILENT_KINDS or turn.transfer is not None or turn.article is not None:
                # Nobody sees this reply, or it is the kf transfer (§3.4, one reply, no text):
                # what a handler meant for the sender waits instead, and goes out as CS messages.
                reply = None
                if turn.transfer is not None or turn.article is not None:
                    outbox.queue(msg.source, outbox.passive + ([turn.reply] if turn.reply else []))
                elif outbox.passive:
                    outbox.queue(msg.source, outbox.passive)
            else:
                # Messages that waited for this fan count as delivered only in a reply WeChat can
                # still take (§2: 5 s); past the budget they stay pending for the next channel.
                in_time = time.monotonic() - received <= app.config["PASSIVE_BUDGET_S"]
                reply = compose_passive(db, outbox, turn.reply, take_waiting=in_time)
    except Exception:
        log.exception("handler failed account=%s openid=%s kind=%s", slug, msg.source, kind(msg))
        buffer.drop()
        record_failure(db, account, slug, msg)
        return render_text(msg, APOLOGY)
    finally:
        db.close()
    # Committed already: whatever fails now, the fan still gets the answer. A lost job is
    # repaired by the next trigger (jobs are idempotent; what they deliver stays pending).
    for step, what in ((lambda: store.save(conv), "saving the conversation"),
                       (lambda: buffer.flush(ext["jobs"]), "queueing jobs")):
        try:
            step()
        except Exception:
            log.exception("after-commit step failed (%s) account=%s openid=%s", what, slug, msg.source)
    if turn.transfer is not None:
        return render_transfer(msg, turn.transfer)
    if turn.article is not None:
        return render_article(msg, turn.article)
    return render_text(msg, reply) if reply else ""


def fan_for(db, account: Account, openid: str, now) -> Fan:
    """The fan row of this push, created on first contact (the fan lock makes this race-free)."""
    fan = db.scalar(select(Fan).where(Fan.account_id == account.id, Fan.openid == openid))
    if fan is None:
        fan = Fan(account_id=account.id, openid=openid, created_at=now)
        db.add(fan)
        db.flush()
    return fan


def event_fields(account: Account, msg, outcome: str) -> dict:
    """The push as an event row: our kind, its key, MsgId and the remaining fields (a plain
    insert: the row is never read back in the request, so no ORM object is built for it)."""
    data = raw(msg)
    key = getattr(msg, "scene_id", None) or data.get("EventKey")
    extra = {k: str(v)[:1000] for k, v in data.items() if k not in _HEADER and v is not None}
    msg_id = int(data["MsgId"]) if str(data.get("MsgId", "")).isdigit() else None
    if msg_id is not None and msg_id >= 2**63:    # not a MsgId WeChat sends; keep it as data
        extra["MsgId"], msg_id = str(msg_id), None
    return dict(account_id=account.id, openid=msg.source, type=kind(msg)[:32],
                key=str(key)[:255] if key else None, msg_id=msg_id, data=extra, outcome=outcome,
                sent_at=datetime.fromtimestamp(msg.time, timezone.utc))


def record_failure(db, account: Account, slug: str, msg) -> None:
    """Keep the failed push on record (analytics must see it), in its own transaction."""
    try:
        db.rollback()
        with db.begin():
            db.execute(insert(Event).values(event_fields(account, msg, "error")))
    except Exception:
        log.exception("could not record failed push account=%s", slug)
