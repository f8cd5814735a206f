"""Pushes that cannot be answered in time: acknowledged now, finished by a worker.

When the fan's previous push still holds their lock past our wait, or the request waited so
long before reaching us that a passive reply would risk WeChat's 5 s (WECHAT-PLATFORM.md §2),
the push is handed to the `high` queue and WeChat gets its empty answer ("success" / an empty
body), which it does not retry. A 503 instead would be no answer: WeChat is not documented to
retry it, so the push would be lost. The worker runs the same turn under the fan lock; what it
has to say goes out by the outbound policy (a customer-service message in the window this push
opened, §4.7; else what the policy does next: nothing is dropped).

Exactly once: the dedup key says "deferred" until the worker claims it (WeChat's retries are
acknowledged meanwhile, empty), and the claim is atomic, so a job run twice runs the turn once.
"""
import logging
import time

from flask import Flask

from bot.directory import account_by_slug
from bot.pipeline import finish
from bot.protocol import fingerprint, parse
from bot.push_gate import PushGate

log = logging.getLogger(__name__)

# A worker waits this long for the fan lock (its holder may take up to the lock's TTL).
WORKER_LOCK_WAIT = 10.0


class StillBusy(Exception):
    """The fan's lock stayed held through the worker's wait: rq tries again."""


def finish_deferred(app: Flask, slug: str, xml: str) -> None:
    """The worker's half: claim the deferred push, wait for the fan lock, run the turn."""
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
    finish(app, account, msg, received=time.monotonic() - 3600, gate=gate, deferred=True)
