"""The webhook's half of a push that cannot be answered in time: hand it to the finishers.

When the fan's previous push still holds their lock past our wait, or the request waited so
long before reaching us that a passive reply would risk WeChat's 5 s (WECHAT-PLATFORM.md §2),
the push goes to the account's stream of deferred pushes and WeChat gets its empty answer
("success" / an empty body), which it does not retry. A 503 instead would be no answer: WeChat
is not documented to retry it, so the push would be lost. The finishers' half is bot/overload.py.

The hand-off is one Redis script (HAND_OFF): claim the push as deferred (or turn our pending
claim into deferred), append it to the stream, and ask for finishers, as many as the backlog
needs up to FINISHERS, each only if none is asked for already. Under a burst that is the
whole cost of a late push: no rq job per push; a finisher takes them by the batch.
"""
import logging
import time
from collections import Counter

from flask import Flask

from bot import keys
from bot.jobs import COALESCE_TTL_S, JobSpec
from bot.protocol import fingerprint
from bot.push_gate import PushGate, StaleAccount, run_script, window_args
from bot.sessions import DEFERRED

log = logging.getLogger(__name__)

FINISH_JOB = "workers.pushes.finish_deferred_pushes"
FINISHER_GROUP = "finishers"
# At most this many finishers per account at once; one more is asked for per this many waiting.
FINISHERS = 4
BACKLOG_PER_FINISHER = 50
# The log says how many pushes were deferred at most once per this many seconds per process.
LOG_EVERY_S = 10.0

HAND_OFF = """
if ARGV[1] == 'claim' then
  if ARGV[7] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[7] then
    return {-1}
  end
  if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3]) then
    return {0, redis.call('GET', KEYS[1]) or ''}
  end
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[2], ARGV[4] .. '_until', ARGV[5], ARGV[4] .. '_used', 0)
    redis.call('EXPIRE', KEYS[2], ARGV[6])
  end
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[4], ARGV[9], '$', 'MKSTREAM')
end
redis.call('XADD', KEYS[4], '*', 'xml', ARGV[8])
local wanted = 1 + math.floor(redis.call('XLEN', KEYS[4]) / tonumber(ARGV[10]))
local asked = {}
for slot = 1, math.min(wanted, #KEYS - 4) do
  if redis.call('SET', KEYS[4 + slot], 1, 'NX', 'EX', ARGV[11]) then
    table.insert(asked, slot - 1)
  end
end
return {1, asked}
"""


def defer_late(app: Flask, account, msg, push_kind: str, xml: str | None, account_json: str = ""):
    """The request waited too long before us: claim the push and hand it off, in one script.
    None when handed off; for a repeat, what its first delivery left in the dedup key.
    StaleAccount as PushGate.enter."""
    window, until = window_args(push_kind, app.extensions["clock"].timestamp())
    result = _hand_off(app, account.slug, "claim", keys.seen(account.slug, fingerprint(msg)), xml,
                       keys.cs_window(account.slug, msg.source), window, until, account_json)
    if result[0] == -1:
        raise StaleAccount(keys.account(account.slug))
    if not result[0]:
        return result[1]
    deferrals.note("late", account.slug, msg.source)
    return None


def defer_claimed(app: Flask, gate: PushGate, account, msg, xml: str | None) -> None:
    """The push is ours (the gate claimed it) but the fan's lock stayed busy: hand it off."""
    _hand_off(app, account.slug, "handoff", gate.seen_key, xml)
    deferrals.note("fan busy", account.slug, msg.source)


class DeferralLog:
    """A WARNING with the count of deferred pushes, at most once per LOG_EVERY_S (the first
    deferral is logged at once), and each push at DEBUG: under a burst a line a push cost a
    tenth of the hand-off and buried everything else in the log."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.last = float("-inf")

    def note(self, reason: str, slug: str, openid: str) -> None:
        log.debug("push deferred to a worker (%s) account=%s openid=%s", reason, slug, openid)
        self.counts[reason] += 1
        now = time.monotonic()
        if now - self.last >= LOG_EVERY_S:
            self.last, counts, self.counts = now, self.counts, Counter()
            log.warning("pushes deferred to a worker: %d late, %d fan busy (since the last such line; "
                        "last account=%s)", counts["late"], counts["fan busy"], slug)


deferrals = DeferralLog()


def _hand_off(app: Flask, slug: str, mode: str, seen_key: str, xml: str | None, window_key: str = "",
              window: str = "", until: str = "", account_json: str = ""):
    if xml is None:
        raise ValueError("a deferred push needs its XML")
    flags = [keys.finisher_asked(slug, slot) for slot in range(FINISHERS)]
    result = run_script(app.extensions["redis"], HAND_OFF,
                        [seen_key, window_key or seen_key, keys.account(slug), keys.deferred_pushes(slug), *flags],
                        [mode, DEFERRED, keys.SEEN_TTL, window, until, keys.CS_WINDOW_TTL, account_json, xml,
                         FINISHER_GROUP, BACKLOG_PER_FINISHER, COALESCE_TTL_S])
    if result[0] == 1:
        ask_finishers(app, slug, result[1])
    return result


def ask_finishers(app: Flask, slug: str, slots) -> None:
    """Queue a finisher run per slot just flagged. The push is in the stream already: a run
    that cannot be queued now (Redis failing between two calls) is asked for again by the
    sweep (workers/pushes.sweep_deferred), so this never fails the push."""
    for slot in slots:
        try:
            app.extensions["jobs"].submit(JobSpec(FINISH_JOB, (slug, int(slot)), queue="high"))
        except Exception:
            log.exception("could not queue a finisher account=%s slot=%s (the sweep asks again)", slug, slot)
