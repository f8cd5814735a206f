"""Jobs a test queues to a real rq worker to see where it runs them (imports nothing of the tests)."""
import os

from rq import get_current_job

PIDS = "test:job-pids"


def note_pid(queue: str) -> None:
    """Records the process that ran the job, under its queue's name."""
    get_current_job().connection.hset(PIDS, queue, os.getpid())
