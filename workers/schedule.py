"""rq's cron scheduler configuration: `rq cron workers.schedule` (README, production start).

Cron fields are the scheduler process's local time (rq.cron): start it with TZ=Asia/Shanghai so
the hours below are China time. The jobs work out the China date themselves and each is
idempotent, so another time zone only moves the hour at which members hear of it.

rq's cron enqueues a job with no retry, so a worker that dies in the middle of a day's
birthdays would leave the rest of the day unpaid: the daily and hourly points work is handed
by the cron job to a job of its own that rq retries (each run pays only what is still owed).
"""
from rq import cron

from bot.jobs import JobSpec
from workers import cs, messaging, pushes, tag_rules
from workers.runtime import app

# After a worker died in the middle: a minute, five, a quarter of an hour (all within the day).
POINTS_RETRY = (60, 300, 900)


def run_retried(func: str) -> None:
    """Queue the named job on `low` with rq's Retry: what the cron fires."""
    app().extensions["jobs"].submit(JobSpec(func, (), "low", retry=POINTS_RETRY))


def _points(name: str, **when) -> None:
    cron.register(run_retried, "low", args=(f"workers.points.{name}",), name=f"points.{name}", **when)


# Birthday awards at 09:00 China time rather than at midnight.
_points("award_birthdays", cron="0 9 * * *")
# Hourly, so points expire within an hour of their time and a missed run costs at most an hour.
_points("expire_points", interval=3600)
# Pending points mature at the start of their China day; hourly pays them within the hour.
_points("mature_pending", interval=3600)
_points("remind_expiring", cron="0 10 * * *")
_points("recalculate_levels", cron="30 3 * * *")
# Lifecycle stages count whole China days since a purchase or activity: once a night is enough.
_points("compute_stages", cron="15 3 * * *")
# Customer service timeouts: idle closes, reminders, reassignments, the queues; the next
# minute's run is its retry.
cron.register(cs.sweep, "high", interval=60)
# Deliveries whose job was lost (Redis down when it was queued): asked for again.
cron.register(messaging.sweep_pending, "default", interval=300)
# Deferred pushes whose finisher was never queued or was killed: a finisher asked for.
cron.register(pushes.sweep_deferred, "high", interval=60)
# Automatic tag rules: hourly, each rule when its `every` has passed (workers/tag_rules.py);
# incremental by watermark, so the next hour's run is its retry.
cron.register(tag_rules.evaluate_due, "low", interval=3600)
