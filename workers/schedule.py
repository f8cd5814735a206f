"""rq's cron scheduler configuration: `rq cron workers.schedule` (README, production start).

Cron fields are the scheduler process's local time (rq.cron): start it with TZ=Asia/Shanghai so
the hours below are China time. The jobs work out the China date themselves and each is
idempotent, so another time zone only moves the hour at which members hear of it.
"""
from rq import cron

from workers import cs, points, tag_rules

# Birthday awards at 09:00 China time rather than at midnight.
cron.register(points.award_birthdays, "low", cron="0 9 * * *")
# Hourly, so points expire within an hour of their time and a missed run costs at most an hour.
cron.register(points.expire_points, "low", interval=3600)
# Pending points mature at the start of their China day; hourly pays them within the hour.
cron.register(points.mature_pending, "low", interval=3600)
cron.register(points.remind_expiring, "low", cron="0 10 * * *")
cron.register(points.recalculate_levels, "low", cron="30 3 * * *")
# Lifecycle stages count whole China days since a purchase or activity: once a night is enough.
cron.register(points.compute_stages, "low", cron="15 3 * * *")
# Customer service timeouts (issue #6): idle closes, reminders, reassignments, the queues.
cron.register(cs.sweep, "high", interval=60)
# Automatic tag rules: hourly, each rule when its `every` has passed (workers/tag_rules.py).
cron.register(tag_rules.evaluate_due, "low", interval=3600)
