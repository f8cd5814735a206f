"""Faults at the edges, real ones: a redis-server process to stop and start again, and a
database statement cancelled by the database itself (PostgreSQL's statement_timeout; SQLite's
interrupt, its equivalent) in the middle of a push or a job, and PostgreSQL ending connections
as a restart does."""
import socket
import subprocess
import threading
import time

from redis import Redis
from sqlalchemy import event


class RedisProcess:
    """A redis-server of the test's own on a free loopback port, with its append-only file, so
    what it held is back after a restart (as on a production Redis with AOF)."""

    def __init__(self, workdir):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.workdir, self.process = workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if Redis.from_url(self.url).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        """Down: the process ends (SIGTERM; the AOF holds what it had)."""
        self.process.terminate()
        self.process.wait(timeout=10)


def cancel_next(engine, statement_start: str) -> dict:
    """The next statement that starts with `statement_start` is cancelled by the database
    (PostgreSQL: statement_timeout over a pg_sleep; SQLite: sqlite3_interrupt over a long
    query), raising what that database raises. Returns {"fired": bool}."""
    state = {"fired": False}

    def before(conn, cursor, statement, parameters, context, executemany):
        if state["fired"] or not statement.lstrip().upper().startswith(statement_start.upper()):
            return
        state["fired"] = True
        if conn.dialect.name == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(2)")        # QueryCanceled: the timeout, as in production
        else:
            raw = conn.connection.driver_connection
            threading.Timer(0.05, raw.interrupt).start()
            cursor.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                           "SELECT count(*) FROM c")   # "interrupted"
    event.listen(engine, "before_cursor_execute", before)
    state["remove"] = lambda: event.remove(engine, "before_cursor_execute", before)
    return state


def drop_connection_at(engine, statement_start: str) -> dict:
    """PostgreSQL ends the connection that is about to run the next statement starting with
    `statement_start` (pg_terminate_backend, what a server restart or failover does to every
    connection), so the statement fails with the driver's "server closed the connection"."""
    state = {"fired": False}

    def before(conn, cursor, statement, parameters, context, executemany):
        if state["fired"] or not statement.lstrip().upper().startswith(statement_start.upper()):
            return
        state["fired"] = True
        with outside_the_pool(engine) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (conn.connection.driver_connection.info.backend_pid,))
    event.listen(engine, "before_cursor_execute", before)
    state["remove"] = lambda: event.remove(engine, "before_cursor_execute", before)
    return state


def drop_every_connection(engine) -> int:
    """Every connection the app's pool holds is ended by the server, as in a restart; how many."""
    with outside_the_pool(engine) as killer:
        ended = killer.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return len(ended.fetchall())


def outside_the_pool(engine):
    """A psycopg connection of its own to the engine's database (autocommit; closed on exit)."""
    import psycopg
    return psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)
