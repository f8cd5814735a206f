"""What a job needs: the app's services, its own DB session, a WeChat client, after-commit jobs.

In the embedded mode and in tests, jobs run inside the app that queued them. In an rq worker
the app is built once per worker process (`AppWorker`). Jobs of the `high` queue run in the
worker process itself: they are short follow-ups a fan waits for within the minute (a relayed
agent message, a push finished late), and a fork per job was most of their latency (about 60 ms
of a relay's p99, bench/README.md). Every other job gets a forked work horse, which drops the
inherited connection pool (SQLAlchemy pooling docs: `engine.dispose(close=False)` after fork),
so a long or leaky job cannot harm the worker. A worker killed in the middle of a `high` job
leaves it started; rq's registry cleanup finds it abandoned once its heartbeat lapses (the
job's timeout + 60 s) and retries it, and every job is safe to run twice.

Production: `rq worker -w workers.runtime.AppWorker high default low --with-scheduler`.
"""
import logging
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Worker
from rq.worker import WorkerStatus
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.jobs import JOB_TIMEOUT_S, JobBuffer, JobQueue, JobSpec
from bot.telling import tell_in_job
from bot.wechat import Client, make_client

log = logging.getLogger(__name__)

_process_app: Flask | None = None   # this worker process's app, built once, never shared
# Set while a job runs here, inside the job that asked for it (RunHere): never its last attempt.
_RUNNING_HERE: ContextVar[bool] = ContextVar("job_running_here", default=False)


def app() -> Flask:
    global _process_app
    if has_app_context():
        return current_app._get_current_object()
    if _process_app is None:
        from bot import create_app
        _process_app = create_app()
    return _process_app


def _after_fork() -> None:
    if _process_app is not None:
        for engine in {_process_app.extensions["engine"], _process_app.extensions["event_engine"]}:
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)


IN_PROCESS_QUEUES = frozenset({"high"})
MAINTENANCE_INTERVAL_S = 60


class AppWorker(Worker):
    """An rq worker that builds the app before forking, so each job does not; `high` jobs run
    in this process, without a fork (rq's SimpleWorker way), the rest in a forked horse."""

    def __init__(self, *args, **kwargs):
        # rq looks for abandoned jobs in its maintenance, every 10 min by default: a `high` job
        # left by a killed worker is retried about 2 min after it started instead.
        # (`rq worker` passes its own default, so a longer interval is shortened, never lengthened.)
        kwargs["maintenance_interval"] = min(kwargs.get("maintenance_interval", MAINTENANCE_INTERVAL_S),
                                             MAINTENANCE_INTERVAL_S)
        super().__init__(*args, **kwargs)
        self._in_process = False
        app()

    def execute_job(self, job, queue):
        if queue.name not in IN_PROCESS_QUEUES:
            return super().execute_job(job, queue)
        self._in_process = True
        try:
            execution = self.prepare_execution(job)
            self.perform_job(job, queue, execution)
            self.set_state(WorkerStatus.IDLE)
        finally:
            self._in_process = False

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if not self._in_process:
            return super().get_heartbeat_ttl(job, working_time)
        # Nothing heartbeats while this process runs the job itself: the whole timeout, as SimpleWorker.
        return int(job.timeout or JOB_TIMEOUT_S['high']) + 60


@dataclass
class JobCtx:
    db: Session
    redis: Redis
    clock: Clock
    enqueue: JobBuffer
    app: Flask

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def tell(self, person, what) -> None:
        """Tell a person (a Fan, a Member, or (account id, openid)) a text or a bot.telling.Media,
        through the outbound policy: pending, then delivered by the next channel."""
        tell_in_job(self, person, what)

    def client(self, account) -> Client:
        """The WeChat client for `account` (shared token, bounded retry, timeouts)."""
        cfg, ext = self.app.config, self.app.extensions
        return make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"],
                           cfg["WECHAT_HTTP_TIMEOUT"])


class RunHere:
    """The jobs a job asks for (handed over after its commit): a `high` one runs here at once,
    the rest go to `jobs` as usual. A finisher (workers/pushes.py) delivers the answer it has
    just committed this way: an rq job per push cost it about a quarter of finishing the push.
    One that fails here goes to `jobs` with all its retries, as if it had not run (jobs are
    safe to run twice); while it runs here it is never its last attempt (`last_attempt`)."""

    def __init__(self, jobs: JobQueue):
        self.jobs = jobs

    def submit(self, spec: JobSpec) -> None:
        if spec.queue != "high" or spec.coalesce:
            self.jobs.submit(spec)
            return
        from rq.utils import import_attribute
        running = _RUNNING_HERE.set(True)
        try:
            import_attribute(spec.func)(*spec.args)
        except Exception:
            log.warning("job failed where it was asked for func=%s; queued with its retries", spec.func,
                        exc_info=True)
            self.jobs.submit(spec)
        finally:
            _RUNNING_HERE.reset(running)


def last_attempt() -> bool:
    """rq runs this job for the last time: a retryable failure must be told now, not retried.
    Outside rq (the embedded mode's runner) the runner's own retries follow, and a job run
    inside the one that asked for it (RunHere) has all of rq's still to come."""
    if _RUNNING_HERE.get():
        return False
    from rq import get_current_job
    current = get_current_job()
    return current is not None and not current.retries_left


@contextmanager
def job_scope() -> Iterator[JobCtx]:
    """One transaction for the job: committed on success, rolled back on error; the jobs it
    queued go out only after the commit."""
    flask_app = app()
    with flask_app.app_context():
        ext = flask_app.extensions
        buffer = JobBuffer()
        db = ext["db"]()
        try:
            with db.begin():
                yield JobCtx(db, ext["redis"], ext["clock"], buffer, flask_app)
        except BaseException:
            buffer.drop()
            raise
        finally:
            db.close()
        buffer.flush(ext["jobs"])
