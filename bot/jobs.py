"""Jobs: buffered during a transaction, handed to rq (or run inline) only after it commits.

Jobs are named by dotted path ("workers.messaging.deliver_pending"), so bot/ never imports
workers/. They take primitive ids and are safe to run twice (STYLE.md 7.7).
"""
import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)

# `high`: follow-ups that must go out within WeChat's one-minute window after a click, follow
# or scan (WECHAT-PLATFORM.md §4.7); `default`: the rest; `low`: bulk work.
QUEUES = ("high", "default", "low")
# `high` jobs are short, and run in the worker's own process (workers/runtime.py): a worker
# killed in the middle of one is noticed, and the job retried, this long (+ 60 s) after it started.
JOB_TIMEOUT_S = {"high": 60}
# A coalesced job (one that reads its work from the database) is queued once until it starts:
# asks in between find its flag. The flag outlives a job lost with Redis by at most this long.
COALESCE_TTL_S = 300


def coalesce_key(job_id: str) -> str:
    return f"jobs:queued:{job_id}"


def coalesced_job_started(redis: Redis, job_id: str) -> None:
    """Called first by a coalesced job: an ask from now on queues another run, which sees rows
    committed after this run's query."""
    redis.delete(coalesce_key(job_id))


@dataclass
class JobSpec:
    func: str
    args: tuple
    queue: str = "default"
    job_id: str | None = None
    retry: tuple[int, ...] = ()
    coalesce: bool = False          # queue it only if no run with this job_id waits already


class JobQueue:
    """Hands jobs to rq (the embedded mode too: its Redis is a real server, bot/local_redis.py),
    or with JOBS_INLINE=1 to one background thread of this process, so a webhook request never
    waits for a WeChat API call either way."""

    def __init__(self, redis: Redis, inline: bool, app=None):
        self.redis = redis
        self._queues = {name: Queue(name, connection=redis) for name in QUEUES}
        self._runner = InlineRunner(app) if inline else None

    def submit(self, spec: JobSpec) -> None:
        if spec.coalesce and not self.redis.set(coalesce_key(spec.job_id), 1, nx=True, ex=COALESCE_TTL_S):
            return
        if self._runner is not None:
            self._runner.submit(spec, attempt=0)
            return
        retry = Retry(max=len(spec.retry), interval=list(spec.retry)) if spec.retry else None
        self._queues[spec.queue].enqueue(spec.func, *spec.args, job_id=spec.job_id, retry=retry,
                                         job_timeout=JOB_TIMEOUT_S.get(spec.queue))

    def drain(self, timeout: float = 10.0) -> bool:
        """JOBS_INLINE=1: wait until every submitted job (and its retries) ran; True if idle."""
        return self._runner.drain(timeout) if self._runner is not None else True

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def run_now(self, func: str, *args: Any) -> Any:
        """An operator command that prints the job's answer runs the named job here and waits for
        it; by name like every job, so the command's module does not import workers/."""
        from rq.utils import import_attribute
        return import_attribute(func)(*args)


class InlineRunner:
    """JOBS_INLINE=1: one daemon thread running jobs in submission order inside
    the app's context, retrying with the job's intervals as rq would. Jobs are idempotent, so
    a job lost with the process is repaired by the next trigger (DESIGN.md: nothing dropped)."""

    def __init__(self, app):
        self.app = app
        self.jobs: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.waiting_retries = 0

    def submit(self, spec: JobSpec, attempt: int) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, name="inline-jobs", daemon=True)
                self.thread.start()
        self.jobs.put((spec, attempt))

    def drain(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks or self.waiting_retries:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _work(self) -> None:
        from rq.utils import import_attribute
        while True:
            spec, attempt = self.jobs.get()
            try:
                with self.app.app_context():
                    import_attribute(spec.func)(*spec.args)
            except Exception:
                self._failed(spec, attempt)
            finally:
                self.jobs.task_done()

    def _failed(self, spec: JobSpec, attempt: int) -> None:
        if attempt >= len(spec.retry):
            log.exception("job failed func=%s (no retries left)", spec.func)
            return
        log.warning("job failed func=%s; retry %d in %ss", spec.func, attempt + 1, spec.retry[attempt],
                    exc_info=True)
        with self.lock:
            self.waiting_retries += 1

        def again():
            self.submit(spec, attempt + 1)     # queued before it stops counting as waiting
            with self.lock:
                self.waiting_retries -= 1
        timer = threading.Timer(spec.retry[attempt], again)
        timer.daemon = True
        timer.start()


@dataclass
class JobBuffer:
    """What a handler asked for during one transaction; flushed after commit, dropped on rollback."""

    pending: list[JobSpec] = field(default_factory=list)

    def __call__(self, func: str, *args: Any, queue: str = "default", job_id: str | None = None,
                 retry: tuple[int, ...] = (), coalesce: bool = False) -> None:
        if coalesce and not job_id:
            raise ValueError(f"{func}: a coalesced job is named by its job_id")
        spec = JobSpec(func, args, queue, job_id, retry, coalesce)
        # Jobs are idempotent: one transaction asking for the same job twice (a delivery per
        # message told) needs it once.
        if spec not in self.pending:
            self.pending.append(spec)

    def flush(self, jobs: JobQueue) -> None:
        specs, self.pending = self.pending, []
        for spec in specs:
            jobs.submit(spec)

    def drop(self) -> None:
        self.pending.clear()


@contextmanager
def committed(app) -> Iterator[tuple[Any, JobBuffer]]:
    """(session, job buffer) for one transaction outside a push (CLI, API): committed on
    success, rolled back on error; the jobs it asked for are queued only after the commit."""
    buffer = JobBuffer()
    db = app.extensions["db"]()
    try:
        with db.begin():
            yield db, buffer
    except BaseException:
        buffer.drop()
        raise
    finally:
        db.close()
    buffer.flush(app.extensions["jobs"])
