"""Finishing pushes the webhook acknowledged without an answer (bot/hand_off.py, bot/overload.py)."""
import logging
import os
import secrets
import socket

from bot import keys
from bot.hand_off import FINISHER_GROUP, ask_finishers
from bot.jobs import COALESCE_TTL_S
from bot.overload import ABANDONED_MS, finish_deferred, finish_stream
from workers import runtime

log = logging.getLogger(__name__)

# A stream whose oldest entry is this old has no finisher running for it (each run takes the
# oldest first and a run lasts at most bot/overload.RUN_BUDGET_S): the sweep asks for one.
STALLED_AFTER_S = 60


def finish_deferred_pushes(slug: str, slot: int) -> int:
    """One finisher run over the account's deferred pushes; their answers leave by the outbound
    policy. Safe to run twice and side by side: the consumer group hands each entry to one run,
    and only the first claim of a push runs it. Each answer is delivered by the run itself,
    right after its turn commits (runtime.RunHere), not by one more job per push."""
    flask_app = runtime.app()
    with flask_app.app_context():
        # A consumer of its own: a run that fails keeps what it held, for a later run to take back.
        consumer = f"{socket.gethostname()}-{os.getpid()}-{slot}-{secrets.token_hex(4)}"
        return finish_stream(flask_app, slug, slot, consumer, runtime.RunHere(flask_app.extensions["jobs"]))


def sweep_deferred() -> int:
    """Ask for a finisher for every stream whose oldest push waited past STALLED_AFTER_S: its
    run was never queued (Redis failed between the hand-off and the enqueue) or was killed.
    How many it asked for."""
    flask_app = runtime.app()
    redis, asked = flask_app.extensions["redis"], 0
    seconds, micros = redis.time()           # Redis's clock: the one stream ids are stamped with
    now_ms = seconds * 1000 + micros // 1000
    for stream in redis.scan_iter(match=keys.deferred_pushes("*"), count=1000):
        forget_idle_consumers(redis, stream)
        oldest = redis.xrange(stream, count=1)
        if not oldest or now_ms - int(oldest[0][0].split(b"-")[0]) < STALLED_AFTER_S * 1000:
            continue
        slug = stream.decode().split(":", 1)[1]
        redis.set(keys.finisher_asked(slug, 0), 1, ex=COALESCE_TTL_S)
        ask_finishers(flask_app, slug, [0])
        log.warning("sweep: asked for a finisher of %s's deferred pushes", slug)
        asked += 1
    return asked


def forget_idle_consumers(redis, stream) -> None:
    """Consumers of failed runs, once a later run took back what they held (nothing pending)."""
    for consumer in redis.xinfo_consumers(stream, FINISHER_GROUP):
        if not consumer["pending"] and consumer["idle"] > 10 * ABANDONED_MS:
            redis.xgroup_delconsumer(stream, FINISHER_GROUP, consumer["name"])


def finish_push(slug: str, xml: str) -> None:
    """A push deferred by an earlier version (one rq job per push), still queued at an upgrade."""
    flask_app = runtime.app()
    with flask_app.app_context():
        finish_deferred(flask_app, slug, xml)
