"""Counting what one push costs: Redis round trips and SQL round trips, at the client edge.

A Redis round trip is one command sent by the client, or one pipeline executed (however many
commands it carries), or one script call. An SQL round trip is one statement the driver
executes, plus every BEGIN and COMMIT/ROLLBACK the session sends (each is its own round trip to
PostgreSQL), plus the pre-ping of a pool that pings on checkout.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field

from redis import Redis
from redis.client import Pipeline
from sqlalchemy import event


@dataclass
class Cost:
    redis: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"redis={len(self.redis)} {self.redis} sql={len(self.sql)} {self.sql}"


@contextmanager
def counting(monkeypatch, app):
    """Count the Redis and SQL round trips `app` makes while it serves requests (the sandbox
    playing WeChat around them is not counted)."""
    cost = Cost()
    engine = app.extensions["engine"]
    serving = []
    wsgi_app = app.wsgi_app

    def serve(environ, start_response):
        serving.append(True)
        try:
            return wsgi_app(environ, start_response)
        finally:
            serving.pop()
    client_execute = Redis.execute_command
    pipeline_execute = Pipeline.execute
    pipeline_immediate = Pipeline.immediate_execute_command

    def command(self, *args, **options):
        if serving and not isinstance(self, Pipeline):
            cost.redis.append(_name(args))
        return client_execute(self, *args, **options)

    def pipeline(self, *args, **options):
        names = [_name(c[0]) for c in self.command_stack]
        if serving and names:
            cost.redis.append("pipeline(" + ",".join(names) + ")")
        return pipeline_execute(self, *args, **options)

    def immediate(self, *args, **options):
        if serving:
            cost.redis.append(_name(args))
        return pipeline_immediate(self, *args, **options)

    def statement(conn, cursor, sql, params, context, executemany):
        if serving:
            cost.sql.append(" ".join(sql.split()[:3]))

    monkeypatch.setattr(app, "wsgi_app", serve)
    monkeypatch.setattr(Redis, "execute_command", command)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    monkeypatch.setattr(Pipeline, "immediate_execute_command", immediate)
    def transaction(name):
        def record(conn):
            # An autocommit connection sends no BEGIN, and its ROLLBACK on return to the pool
            # finds no transaction (the driver sends nothing).
            if serving and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                cost.sql.append(name)
        return record

    listeners = [("before_cursor_execute", statement), ("begin", transaction("BEGIN")),
                 ("commit", transaction("COMMIT")), ("rollback", transaction("ROLLBACK"))]
    engines = {engine, app.extensions["event_engine"]}

    def ping(dbapi_conn, record, proxy):
        if serving:
            cost.sql.append("(pre-ping)")

    hooks = [(e, name, fn) for e in engines for name, fn in listeners]
    # A pool that pre-pings sends one more round trip on every checkout.
    hooks += [(e.pool, "checkout", ping) for e in engines if e.pool._pre_ping]
    for target, name, fn in hooks:
        event.listen(target, name, fn)
    try:
        yield cost
    finally:
        for target, name, fn in hooks:
            event.remove(target, name, fn)
        monkeypatch.undo()


def _name(args) -> str:
    name = args[0] if args else "?"
    return name.decode() if isinstance(name, bytes) else str(name)
