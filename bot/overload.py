"""Pushes that cannot be answered in time: acknowledged now, finished by a worker.

When the fan's previous push still holds their lock past our wait, or the request waited so
long before reaching us that a passive reply would risk WeChat's 5 s (WECHAT-PLATFORM.md §2),
the webhook hands it off (bot/hand_off.py) and WeChat gets its empty answer ("success" / an
empty body). This is the finishers' half: a finisher run (workers/pushes.py) runs
the same turn under the fan lock; what it has to say goes out by the outbound policy (a
customer-service message in the window this push opened, §4.7; else what the policy does next:
nothing is dropped).

Exactly once: the dedup key says "deferred" until a finisher claims it (WeChat's retries are
acknowledged meanwhile, empty), and the claim is atomic, so an entry read twice runs once.
"""
import logging
import time

from flask import Flask
from redis import Redis
from redis.exceptions import ResponseError

from bot import keys
from bot.directory import account_by_slug
from bot.hand_off import FINISHER_GROUP, ask_finishers
from bot.jobs import COALESCE_TTL_S
from bot.pipeline import finish
from bot.protocol import fingerprint, parse
from bot.push_gate import PushGate

log = logging.getLogger(__name__)

# A worker waits this long for the fan lock (its holder may take up to the lock's TTL).
WORKER_LOCK_WAIT = 10.0
# A run takes this many entries at a time; one killed holding them leaves only these to others.
BATCH = 10
# An entry read this long ago and still not finished was left by a killed finisher: well past
# one turn (at most WORKER_LOCK_WAIT + a turn), and the `high` job timeout (bot/jobs.py).
ABANDONED_MS = 90_000
# A run stops taking entries after this long and asks for its successor (the `high` queue's
# job timeout is 60 s, bot/jobs.py).
RUN_BUDGET_S = 30.0


class StillBusy(Exception):
    """The fan's lock stayed held through the finisher's wait: the push waits its turn again."""


def finish_deferred(app: Flask, slug: str, xml: str, jobs=None) -> None:
    """The worker's half: claim the deferred push, wait for the fan lock, run the turn (its
    jobs to `jobs`, default the app's queue)."""
    ext = app.extensions
    account = account_by_slug(ext["redis"], ext["db"], slug)
    if account is None:
        log.error("deferred push for an account that is gone account=%s", slug)
        return
    msg = parse(xml)
    gate = PushGate(ext["redis"], account, msg.source, fingerprint(msg))
    if not gate.resume():
        log.info("deferred push already finished account=%s openid=%s", slug, msg.source)
        return
    if not gate.wait_for_lock(WORKER_LOCK_WAIT):
        gate.mark_deferred()
        raise StillBusy(msg.source)
    # Long past any passive reply: nothing waiting is taken into one (run_turn, `received`).
    finish(app, account, msg, received=time.monotonic() - 3600, gate=gate, deferred=True, jobs=jobs)


def finish_stream(app: Flask, slug: str, slot: int, consumer: str, jobs=None) -> int:
    """One finisher run: take the account's deferred pushes by the batch (first those a killed
    finisher left, XAUTOCLAIM), finish each, then acknowledge and delete it. A push whose fan
    stays busy goes to the back of the stream. Stops when the stream is empty or after
    RUN_BUDGET_S (then asks for its successor). How many pushes it finished. `jobs`: where
    the turns' jobs go (workers/pushes.py runs their deliveries in the run itself)."""
    redis = app.extensions["redis"]
    redis.delete(keys.finisher_asked(slug, slot))   # a push from now on asks for another run
    stream, done = keys.deferred_pushes(slug), 0
    ensure_group(redis, stream)
    deadline = time.monotonic() + RUN_BUDGET_S
    while time.monotonic() < deadline:
        entries = _take(redis, stream, consumer)
        if not entries:
            break
        for entry_id, fields in entries:
            xml = fields[b"xml"].decode()
            try:
                finish_deferred(app, slug, xml, jobs)
                done += 1
            except StillBusy:
                redis.xadd(stream, {"xml": xml})      # its turn again, behind the others
            # Anything else (the database down) propagates: the entry stays with this consumer,
            # and the next run takes it back after ABANDONED_MS.
            pipe = redis.pipeline(transaction=False)
            pipe.xack(stream, FINISHER_GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            pipe.execute()
    else:
        if redis.set(keys.finisher_asked(slug, slot), 1, nx=True, ex=COALESCE_TTL_S):
            ask_finishers(app, slug, [slot])
    redis.xgroup_delconsumer(stream, FINISHER_GROUP, consumer)
    return done


def ensure_group(redis: Redis, stream: str) -> None:
    try:
        redis.xgroup_create(stream, FINISHER_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _take(redis: Redis, stream: str, consumer: str) -> list:
    """Up to BATCH entries for `consumer`: abandoned ones first, then new ones."""
    claimed = redis.xautoclaim(stream, FINISHER_GROUP, consumer, ABANDONED_MS, "0-0", count=BATCH)
    entries = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
    if entries:
        log.warning("finisher took back %d deferred push(es) a killed run left", len(entries))
        return entries
    read = redis.xreadgroup(FINISHER_GROUP, consumer, {stream: ">"}, count=BATCH)
    return read[0][1] if read else []
