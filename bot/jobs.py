"""Jobs: buffered during a transaction, handed to rq (or run inline) only after it commits.

Jobs are named by dotted path ("workers.messaging.deliver_pending"), so bot/ never imports
workers/. They take primitive ids and are safe to run twice (STYLE.md 7.7).
"""
import logging
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)

# `high`: follow-ups that must go out within WeChat's one-minute window after a click, follow
# or scan (WECHAT-PLATFORM.md §4.7); `default`: the rest; `low`: bulk work.
QUEUES = ("high", "default", "low")


@dataclass
class JobSpec:
    func: str
    args: tuple
    queue: str = "default"
    job_id: str | None = None
    retry: tuple[int, ...] = ()


class JobQueue:
    """Hands jobs to rq, or runs them right away when no worker exists (embedded mode)."""

    def __init__(self, redis: Redis, inline: bool):
        self.redis = redis
        self.inline = inline
        self._queues = {name: Queue(name, connection=redis) for name in QUEUES}

    def submit(self, spec: JobSpec) -> None:
        if self.inline:
            self._run_inline(spec)
            return
        retry = Retry(max=len(spec.retry), interval=list(spec.retry)) if spec.retry else None
        self._queues[spec.queue].enqueue(spec.func, *spec.args, job_id=spec.job_id, retry=retry)

    def _run_inline(self, spec: JobSpec) -> None:
        from rq.utils import import_attribute

        # Inline jobs must not break the request that queued them: a failure is logged, as a
        # failed rq job would be; the job's own idempotency makes a later re-run safe.
        try:
            import_attribute(spec.func)(*spec.args)
        except Exception:
            log.exception("job failed func=%s", spec.func)

    def queue(self, name: str) -> Queue:
        return self._queues[name]


@dataclass
class JobBuffer:
    """What a handler asked for during one transaction; flushed after commit, dropped on rollback."""

    pending: list[JobSpec] = field(default_factory=list)

    def __call__(self, func: str, *args: Any, queue: str = "default", job_id: str | None = None,
                 retry: tuple[int, ...] = ()) -> None:
        self.pending.append(JobSpec(func, args, queue, job_id, retry))

    def flush(self, jobs: JobQueue) -> None:
        specs, self.pending = self.pending, []
        for spec in specs:
            jobs.submit(spec)

    def drop(self) -> None:
        self.pending.clear()
