"""One push, in order (DESIGN.md "One push, in order", steps 3-6; the webhook did 1-2).

dedup, CS window, fan lock, conversation and cached facts in one Redis script (bot/push_gate.py)
→ one transaction (fan, dispatch, event row, passive reply), opened only when a handler
touches the database; else the event row in one autocommit statement → flush jobs → save the
conversation, release the lock, cache the reply in one more script. Too late or lock held:
acknowledged, handed to the finishers in one script (bot/hand_off.py, bot/overload.py).
A handler that raises: roll back, keep the old conversation, drop its jobs, record the push
as failed, apologise. Nothing here calls WeChat.
"""
import logging
import time
from datetime import datetime, timezone

from flask import Flask
from psycopg.types.json import Json
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached

from bot.capabilities import for_account
from bot.context import Ctx
from bot.hand_off import defer_claimed, defer_late
from bot.jobs import JobBuffer
from bot.facts import TOUCHED_DB, own_bumps, quiet_in_db
from bot.outbound import SILENT_KINDS, Outbox, settle_reply
from bot.protocol import fingerprint, kind, raw, render_news, render_text, render_transfer
from bot.push_gate import PushGate, first_seen_of
from bot.sessions import ConvState, Dedup
from models import Account, Event, Fan
from models.base import utcnow

log = logging.getLogger(__name__)

APOLOGY = "抱歉，刚才没有处理好，请稍后再试。"
# A repeat waits this long for the first delivery's reply; WeChat gives each delivery 5 s.
REPLAY_WAIT = 3.0
FAN_LOCK_WAIT = 3.0
_HEADER = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Event", "EventKey", "Encrypt"}


def handle_push(app: Flask, account: Account, msg, received: float | None = None, xml: str | None = None,
                account_json: str = "") -> str:
    """The plaintext reply XML for `msg`, or "" for none; side effects happen once per push.
    `received`: time.monotonic() when the request arrived (now if not given; earlier when it
    waited in a queue before us). `xml`: the push as received, for a worker to finish it when
    it cannot be answered in time (bot/overload.py). `account_json`: the process's copy the
    account came from, checked against Redis's before anything is claimed (StaleAccount)."""
    received = time.monotonic() if received is None else received
    ext = app.extensions
    redis, openid = ext["redis"], msg.source
    if app.config["DEFER_AFTER_S"] <= time.monotonic() - received:
        # Too late for a passive reply: claimed and handed off in one script, nothing else.
        first_seen = defer_late(app, account, msg, kind(msg), xml, account_json)
        if first_seen is None:
            return ""
        # A repeat waits for its first delivery's reply only as long as WeChat's 5 s allow.
        left = app.config["PASSIVE_BUDGET_S"] - (time.monotonic() - received)
        return answer_repeat(redis, account, msg, first_seen_of(first_seen), max(0.0, min(REPLAY_WAIT, left)))
    gate = PushGate(redis, account, openid, fingerprint(msg), account_json)
    # WeChat opened the person's customer-service window whatever we make of the push.
    if not gate.enter(kind(msg), ext["clock"].timestamp()):
        return answer_repeat(redis, account, msg, gate.first_seen)
    left = app.config["DEFER_AFTER_S"] - (time.monotonic() - received)
    if not (gate.locked or (left > 0 and gate.wait_for_lock(min(FAN_LOCK_WAIT, left)))):
        defer_claimed(app, gate, account, msg, xml)
        return ""
    return finish(app, account, msg, received, gate)


def answer_repeat(redis, account: Account, msg, first_seen: str | None, wait: float = REPLAY_WAIT) -> str:
    """WeChat's retry of a push we have: the first delivery's reply, once it has one (§2),
    waiting at most `wait` seconds for it."""
    replay = first_seen
    if replay is None:
        replay = Dedup(redis, account.slug, fingerprint(msg)).replay(wait)
    log.info("repeat push account=%s openid=%s replayed=%s", account.slug, msg.source, replay is not None)
    return replay or ""


def finish(app: Flask, account: Account, msg, received: float, gate: PushGate, deferred: bool = False,
           jobs=None) -> str:
    """Run the turn under the fan lock the gate holds, then close the gate (see PushGate.leave).
    `jobs`: where the turn's jobs go after its commit (default: the app's queue)."""
    openid = msg.source
    conv: ConvState | None = None
    try:
        reply, conv = run_turn(app, account, msg, received, gate, deferred, jobs)
    except Exception:
        # run_turn answers handler errors itself; this is the database or Redis failing around
        # them. The fan gets the apology (never a 500, never silence) and so do WeChat's retries.
        log.exception("push failed account=%s openid=%s", account.slug, openid)
        reply = render_text(msg, APOLOGY)
    try:
        if not gate.leave(conv, reply):
            log.warning("fan lock expired before release account=%s openid=%s", account.slug, openid)
    except Exception:
        # Committed already: the fan still gets the answer; the lock's TTL frees it.
        log.exception("after-commit step failed (saving the conversation) account=%s openid=%s",
                      account.slug, openid)
    return reply


def run_turn(app: Flask, account: Account, msg, received: float, gate: PushGate,
             deferred: bool = False, jobs=None) -> tuple[str, ConvState | None]:
    """(reply XML, the conversation to save: None keeps the stored one). `deferred`: the push
    was acknowledged already (bot/overload.py): nothing can be said in a passive reply."""
    ext = app.extensions
    now = ext["clock"].now()
    slug = account.slug      # read before the session: after a rollback it would be reloaded
    buffer = JobBuffer()
    db = ext["db"]()         # no connection until something reads or writes (lazy)
    facts = gate.facts
    try:
        with db.begin():
            account = db.merge(account, load=False)
            fan = known_fan(db, account, msg.source, facts) if facts.trusted else fan_for(
                db, account, msg.source, now)
            conv = gate.loaded
            outbox = Outbox(db, account, buffer, now, recipient=msg.source, nothing_waiting=facts.quiet)
            ctx = Ctx(account=account, fan=fan, db=db, redis=ext["redis"], conv=conv, enqueue=buffer,
                      now=now, caps=for_account(account, app.config["STRICT_STATES"]),
                      config=app.config, outbox=outbox, msg=msg, facts=facts, keywords=gate.keywords)
            turn = ext["dispatcher"].dispatch(ctx, msg)
            in_time = time.monotonic() - received <= app.config["PASSIVE_BUDGET_S"]
            reply = settle_reply(db, outbox, kind(msg), turn, in_time, ctx.postscript, answered=deferred)
            event = event_fields(account, msg, "ok")
            if touched(db):
                # The handler used the database: the event row commits with what it did.
                db.execute(insert(Event).values(event))
                if not facts.trusted and quiet_in_db(db, account.id, fan):
                    gate.checked = (fan.id, fan.member_id)
    except Exception:
        log.exception("handler failed account=%s openid=%s kind=%s", slug, msg.source, kind(msg))
        buffer.drop()
        record_failure(db, account, slug, msg)
        return render_text(msg, APOLOGY), None
    finally:
        db.close()
    if gate.checked is not None:
        # Committed: the commit's own bump is counted too (the compare expects exactly ours).
        gate.own_bumps = own_bumps(db, gate.facts_key)
    if not touched(db):
        # Nothing else to commit (a known, quiet fan's common push): one autocommit statement.
        record_event(ext["event_engine"], event)
    # Committed already: whatever fails now, the fan still gets the answer. A lost job is
    # repaired by the next trigger (jobs are idempotent; what they deliver stays pending).
    try:
        buffer.flush(jobs or ext["jobs"])
    except Exception:
        log.exception("after-commit step failed (queueing jobs) account=%s openid=%s", slug, msg.source)
    if turn.transfer is not None:
        return render_transfer(msg, turn.transfer), conv
    if turn.news is not None and kind(msg) not in SILENT_KINDS:
        return render_news(msg, turn.news), conv
    return (render_text(msg, reply) if reply else ""), conv


def touched(db) -> bool:
    """Whether the session opened a connection (read or wrote anything) in this push."""
    return bool(db.info.get(TOUCHED_DB))


# One statement object for every event row: its compiled form is cached once per process.
EVENT_INSERT = insert(Event)
# PostgreSQL's: the driver's own statement (psycopg prepares it after a few uses), which costs
# less than half of the compiled one's client CPU; SQLAlchemy's events and errors still apply.
PG_EVENT_INSERT = ("INSERT INTO event (account_id, openid, type, key, msg_id, data, outcome, sent_at, "
                   "recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
_PG_EVENT_COLUMNS = ("account_id", "openid", "type", "key", "msg_id")


def record_event(engine, fields: dict) -> None:
    """The event row in one autocommit statement, on an engine without pre-ping: a pooled
    connection the server ended (a restart) fails the insert before it runs, and the insert is
    tried once more on a fresh connection (SQLAlchemy has invalidated the pool's older ones)."""
    postgres = engine.dialect.name == "postgresql"
    for last in (False, True):
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if postgres:
                    conn.exec_driver_sql(PG_EVENT_INSERT, (*(fields[c] for c in _PG_EVENT_COLUMNS),
                                                           Json(fields["data"]), fields["outcome"],
                                                           fields["sent_at"], utcnow()))
                else:
                    conn.execute(EVENT_INSERT, fields)
            return
        except DBAPIError as exc:
            if last or not exc.connection_invalidated:
                raise
            log.warning("event insert found its connection ended; trying a fresh one")


def known_fan(db, account: Account, openid: str, facts) -> Fan:
    """The fan row as the checked facts know it, attached without a query; any other column
    loads from the database when first read (the session connects then)."""
    fan = Fan(id=facts.fan_id, account_id=account.id, openid=openid, member_id=facts.member_id)
    make_transient_to_detached(fan)
    return db.merge(fan, load=False)


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
