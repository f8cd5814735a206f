"""rq's cron scheduler configuration: `rq cron workers.schedule` (README, production start).

Cron fields are the scheduler process's local time (rq.cron). The jobs themselves work out the
China-time date, and each is idempotent, so the hour only decides when members hear of it.
"""
from rq import cron

from workers import points

# Birthday awards in the morning rather than at midnight: the member reads them over breakfast.
cron.register(points.award_birthdays, "low", cron="0 9 * * *")
# Hourly, so points expire within an hour of their time and a missed run costs at most an hour.
cron.register(points.expire_points, "low", interval=3600)
cron.register(points.remind_expiring, "low", cron="0 10 * * *")
cron.register(points.recalculate_levels, "low", cron="30 3 * * *")
