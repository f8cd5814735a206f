"""Engine and session factory, made once per process by the app factory or the worker runtime."""
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker


def make_engine(url: str, write_lock_up_front: bool = True, pre_ping: bool = True,
                pool_size: int = 10) -> Engine:
    """An engine for `url`; SQLite gets the settings that make concurrent writers safe. Bound
    values stay out of error messages (they hold message text, openids, later phone numbers).
    `write_lock_up_front=False` is for readers that must never block writers (test probes).
    `pre_ping=False` saves a round trip per checkout; its user retries a statement on a
    connection the server had ended (bot/pipeline.record_event)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=pre_ping, pool_size=pool_size, max_overflow=2 * pool_size,
                             hide_parameters=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15},
                           hide_parameters=True)

    # pysqlite's own transaction handling defers BEGIN and can fail a read-to-write upgrade
    # under concurrency; the SQLAlchemy SQLite dialect docs' recipe takes the write lock up
    # front instead (BEGIN IMMEDIATE), so writers queue on the busy timeout.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return      # one statement, committed by itself: no transaction to lock for
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_lock_up_front else "BEGIN")

    return engine


def make_sessionmaker(engine: Engine, info: dict | None = None) -> sessionmaker:
    """`info` is copied into every session's `info` (the app puts its Redis there, for the
    caches its writers flag)."""
    return sessionmaker(engine, expire_on_commit=False, info=info)
