"""The embedded mode's own worker and cron scheduler: child processes that `serve` (`make run`)
and `sandbox chat` start and stop.

They are the production programs (rq's AppWorker on the high, default and low queues,
with its scheduler for retries; rq's CronScheduler with workers.schedule), run against the
checkout's shared Redis (bot/local_redis.py), so jobs queued by any process, a CLI command
included, run here exactly as they would in production. Each child gets SIGTERM when its
parent dies, however it dies (prctl PR_SET_PDEATHSIG), so none outlives `make run`; their
output goes to instance/log/.
"""
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from redis import Redis
from rq import Worker

from bot.config import ROOT

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 10


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Children:
    """The worker (and the cron scheduler) of this process, stopped together."""

    def __init__(self, instance: Path, cron: bool = True):
        self.instance = instance
        self.roles = ("worker", "cron") if cron else ("worker",)
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "Children":
        log_dir = self.instance / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        # Log records go to bot.log only; {role}.log keeps what is not a log record (bot/logs.py).
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_TERMINAL": "0"}
        # rq's cron fields are the scheduler's local time: China time, as in production (README).
        env.setdefault("TZ", "Asia/Shanghai")
        for role in self.roles:
            log = open(log_dir / f"{role}.log", "ab")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "workers.embedded", role], cwd=ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent))
            log.close()
        return self

    def stop(self) -> None:
        """SIGTERM (rq finishes the job at hand, then leaves), then SIGKILL after 10 s."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


def live_workers(redis: Redis) -> list[Worker]:
    """rq workers of this machine whose process is alive (a killed one stays registered a while)."""
    alive = []
    for worker in Worker.all(connection=redis):
        try:
            os.kill(worker.pid, 0)
        except (OSError, TypeError):
            continue
        alive.append(worker)
    return alive
