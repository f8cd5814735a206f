"""`python -m workers.embedded worker|cron`: the embedded mode's children (bot/embedded.py).

The same programs as production's `rq worker -w workers.runtime.AppWorker high default low
--with-scheduler` and `rq cron workers.schedule`, on the app's own Redis connection: in the
embedded mode that is the checkout's shared Redis, which has no URL to pass on a command line.
"""
import sys

from rq import cron

from bot.jobs import QUEUES
from workers import runtime


def main(role: str) -> None:
    redis = runtime.app().extensions["redis"]
    if role == "worker":
        worker = runtime.AppWorker(list(QUEUES), connection=redis)
        worker.work(with_scheduler=True)
    elif role == "cron":
        import workers.schedule  # noqa: F401  registers the schedule with rq.cron
        cron.create_cron(redis).start()
    else:
        sys.exit(f"usage: python -m workers.embedded worker|cron (not {role!r})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
