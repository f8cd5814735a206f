"""What the benchmark runs on: wrk, the `bench` database and account, the two gunicorn servers."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.sandbox.phone import signature

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"

ACCOUNT = dict(slug="bench", type="service", token="benchtoken", appid="wxbench00000000001",
               aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", original_id="gh_bench",
               secret="benchsecret")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1/bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9"


class BenchError(Exception):
    """Something the benchmark needs is missing or broken: the message says what to do."""


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package when it is missing."""
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", flush=True)
        for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "wrk"]):
            if shutil.which("wrk"):
                break
            try:
                subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            except OSError:
                break
    path = shutil.which("wrk")
    if not path:
        raise BenchError("wrk is not installed and `apt-get install -y wrk` failed: install wrk "
                         "(https://github.com/wg/wrk) by hand, as root, and run `make bench` again")
    return path


def app_env() -> dict[str, str]:
    """The environment of our service and of its CLI: real PostgreSQL and Redis, sandbox on."""
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "bench-only-secret", "PYTHONUNBUFFERED": "1"}


def ensure_database() -> None:
    """CREATE DATABASE when it is missing (connecting to the server's `postgres` database)."""
    url = make_url(DATABASE_URL)
    if not url.drivername.startswith("postgresql"):
        raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {url.drivername}")
    admin = create_engine(url.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}):
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
                print(f"created database {url.database}", flush=True)
    except Exception as exc:  # connection refused, auth...: say which server
        raise BenchError(f"PostgreSQL at {url.render_as_string()} is not usable: {exc}") from exc
    finally:
        admin.dispose()


def flask_cli(*args: str) -> None:
    """`flask --app wsgi ARGS` in the benchmark's environment; its output only on failure."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=app_env(), capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"`flask --app wsgi {' '.join(args[:2])}` failed:\n{done.stdout}{done.stderr}")


def prepare_service() -> None:
    """Migrate the `bench` database and add (or refresh) the benchmark account."""
    ensure_database()
    flask_cli("db", "upgrade")
    a = ACCOUNT
    flask_cli("accounts", "add", a["slug"], "--type", a["type"], "--appid", a["appid"],
              "--secret", a["secret"], "--token", a["token"], "--aes-key", a["aes_key"],
              "--original-id", a["original_id"], "--name", "Benchmark")


class Store:
    """Our service's state between scenarios: flush Redis, empty the per-push tables, count."""

    def __init__(self):
        from redis import Redis
        self.redis = Redis.from_url(REDIS_URL)
        self.engine = create_engine(make_url(DATABASE_URL).set(drivername="postgresql+psycopg"))

    def reset(self, keep_fans: bool = False) -> None:
        """Everything of the last run goes; with keep_fans, what the fans' earlier pushes left
        stays (fan rows, their cached facts, the keyword list, the account copy) and only the
        pushes' own traces go (events, dedup keys, conversations, locks, windows, jobs)."""
        self.events()   # the last run's pushes still in flight finish first (TRUNCATE would deadlock)
        if not keep_fans:
            self.redis.flushdb()
            tables = "event, fan, outbound_message"
        else:
            for pattern in ("seen:*", "conv:*", "lock:*", "cswin:*", "rq:*", "deferred:*", "deferred-asked:*"):
                batch = list(self.redis.scan_iter(pattern, count=1000))
                for start in range(0, len(batch), 1000):
                    self.redis.delete(*batch[start:start + 1000])
            tables = "event, outbound_message"
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def events(self) -> tuple[int, int]:
        """(rows, distinct MsgIds) in the event table; wait until in-flight pushes have landed."""
        last, stable_since = None, time.monotonic()
        while True:
            with self.engine.connect() as conn:
                now = tuple(conn.execute(text("SELECT count(*), count(DISTINCT msg_id) FROM event")).one())
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 0.5:
                return last
            time.sleep(0.1)

    def queued_jobs(self) -> int:
        return sum(self.redis.llen(k) for k in self.redis.scan_iter("rq:queue:*", count=10_000)
                   if self.redis.type(k) == b"list")

    def unfinished(self) -> int:
        """Queued jobs, plus pushes waiting in the deferred streams for a finisher (bot/hand_off.py)."""
        return self.queued_jobs() + sum(self.redis.xlen(k) for k in self.redis.scan_iter("deferred:*", count=10_000))

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn (its own session, so Ctrl-C reaches only us), logging to bench/out/NAME.log."""

    def __init__(self, name: str, app: str, workers: int, extra: tuple[str, ...] = (), env=None):
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = OUT / f"{name}.log"
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               *extra, app]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env or os.environ, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until a signed GET handshake on /wechat/bench echoes its echostr (§1.2)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            ts, nonce, echo = str(int(time.time())), str(secrets.randbelow(10**9)), secrets.token_hex(8)
            query = dict(signature=signature(ACCOUNT["token"], ts, nonce), timestamp=ts, nonce=nonce,
                         echostr=echo)
            try:
                r = requests.get(f"{self.url}/wechat/{ACCOUNT['slug']}", params=query, timeout=2)
                if r.status_code == 200 and r.text == echo:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # gunicorn's graceful shutdown of its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

