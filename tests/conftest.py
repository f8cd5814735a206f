"""Test harness: the real app, the real webhook, signed XML, the sandbox as WeChat.

Services: embedded by default (SQLite file, fakeredis). With TEST_DATABASE_URL and
TEST_REDIS_URL set (CI's second run), the same suite runs on PostgreSQL and Redis; an
unreachable service fails the run, it never skips.
"""
import os
import socket
import threading
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path

import fakeredis
import pytest
from hypothesis import settings
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from bot import create_app, points
from bot.clock import FrozenClock
from bot.dispatch import Dispatcher
from bot.jobs import QUEUES
from bot.points.policy import load
from bot.points.rules_file import parse
from bot.routes import ROUTERS
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from admin_support import build as build_operators
from cs_support import Cast
from handlers.subscribe import BIND_OFFER
from models import Account, Base, Integration, Member
from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from tests.embedded_processes import free_port
from tests.fault_support import RedisProcess
from outbound_support import relay_router
from points_support import PHONE, RULES, SECRET, signed_post

# Every log line at DEBUG is checked for secrets, tokens, SMS codes and unmasked phones.
pytest_plugins = ("tests.log_leaks",)

# Property tests draw the same examples on every run, so CI's verdict does not depend on luck;
# `pytest --hypothesis-profile=explore` draws fresh ones to hunt for bugs.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")

DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")

# The official sample account (WECHAT-PLATFORM.md §8 V0/V1), used as the service account.
SAMPLE = dict(slug="hq", type="service", verified=True, appid="wx2c2769f8efd9abc2", secret="sample-secret",
              token="spamtest", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
              original_id="gh_10f6c3c3ac5a", name="HQ", welcome_text="欢迎关注总部服务号！",
              notice_template_id="TPL_NEW_MESSAGES")
# What a fan who is not a member hears on following: the account's welcome, then the binding offer.
WELCOME = f"{SAMPLE['welcome_text']}\n\n{BIND_OFFER}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A migrated, empty database for the whole run (migrations are part of what is tested)."""
    url = DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    except Exception as exc:
        pytest.exit(f"TEST_DATABASE_URL {url} is unreachable: {exc}", returncode=3)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def redis():
    if not REDIS_URL:
        yield fakeredis.FakeRedis()
        return
    client = Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except Exception as exc:
        pytest.exit(f"TEST_REDIS_URL {REDIS_URL} is unreachable: {exc}", returncode=3)
    yield client
    client.flushdb()


@pytest.fixture
def redis_process(tmp_path):
    """A redis-server of the test's own, to stop and start again (tests/fault_support.py)."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection off this machine fails the test (the sandbox is in-process)."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")
                                          or host.startswith("/")):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real_connect(sock, address)
    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def app(request, database_url, redis, clock):
    """The app on the test's services. A test marked `served` (a browser's) also has it served
    over HTTP on a free port, which is its public address too (the H5 pages' links)."""
    config = {"TESTING": True, "DATABASE_URL": database_url, "REDIS": redis, "CLOCK": clock,
              "SANDBOX": True, "JOBS_INLINE": False, "STRICT_STATES": True}
    port = free_port() if request.node.get_closest_marker("served") else None
    if port:
        config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    app = create_app(config)
    with served_over_http(app, port) if port else nullcontext():
        yield app
    empty_tables(app.extensions["engine"])
    app.extensions["event_engine"].dispose()


@contextmanager
def served_over_http(app, port: int):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def chromium_env(tmp_path):
    """Chromium's environment with a Chinese font (the one the posters use, bot/assets/): the
    machine may have none, and the screenshots must be readable."""
    fonts = tmp_path / "fonts.conf"
    fonts.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                     '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                     f'<dir>{Path(__file__).resolve().parent.parent / "bot/assets"}</dir>'
                     f'<cachedir>{tmp_path / "fontcache"}</cachedir></fontconfig>', encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(fonts)}


def empty_tables(engine) -> None:
    """Every test starts from the migrated, empty schema."""
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def db(app, database_url):
    """A session for the test's own reads and set-up (commit what you set up). On SQLite its
    transactions take the write lock only when they write, so a test holding it open while it
    reads never blocks the webhook it drives."""
    engine = make_engine(database_url, write_lock_up_front=False)
    with make_sessionmaker(engine, info={"redis": app.extensions["redis"]})() as session:
        yield session
    engine.dispose()


@pytest.fixture
def world(app, clock):
    """The sandbox WeChat: what it recorded, what it delivered, scripted failures."""
    return SandboxWeChat(app.extensions["redis"], clock)


@pytest.fixture
def make_account(app, db, world):
    def make(**overrides) -> Account:
        fields = {**SAMPLE, **overrides}
        account = Account(**fields)
        db.add(account)
        db.commit()
        world.register_account(account.appid, account.secret, account.type, account.verified,
                               account.original_id)
        return account
    return make


@pytest.fixture
def account(make_account):
    return make_account()


class Jobs:
    """The rq queues of the test app: what was queued, and running it in-process."""

    def __init__(self, app):
        self.app = app
        self.queues = [app.extensions["jobs"].queue(name) for name in QUEUES]

    def queued(self) -> list[str]:
        return [job.func_name for q in self.queues for job in q.jobs]

    def run_all(self) -> int:
        """Run every queued job (and the jobs they queue) to completion; how many ran."""
        ran = 0
        with self.app.app_context():
            while sum(q.count for q in self.queues):
                ran += sum(q.count for q in self.queues)
                SimpleWorker(self.queues, connection=self.app.extensions["redis"]).work(burst=True)
        return ran

    def failed(self) -> int:
        return sum(q.failed_job_registry.count for q in self.queues)


@pytest.fixture
def jobs(app):
    return Jobs(app)


def poster(app):
    client = app.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    return post


@pytest.fixture
def phone(app, account, world, clock):
    """phone("bob", mode="safe", account=other) → a person chatting through the webhook."""
    def make(name: str = "alice", mode: str = "plain", account=account) -> Phone:
        return Phone(poster(app), account, sandbox_openid(account.slug, name), mode, world, clock)
    return make


@pytest.fixture
def wx(phone):
    return phone("alice")


def later(clock, **delta):
    return clock.advance(**delta) if delta else clock.advance(seconds=1)


@pytest.fixture
def relay(app):
    """The app's routing table with the relay router first (tests/outbound_support.py)."""
    app.extensions["dispatcher"] = Dispatcher([relay_router(), *ROUTERS], strict=True)
    return app


@pytest.fixture
def team(app, db, phone, world, jobs, account, clock):
    """The customer-service cast (tests/cs_support.py), people called by name."""
    return Cast(app, db, phone, world, jobs, account, clock)


@pytest.fixture
def org(app, db, phone, world, jobs, account, clock):
    """The customer-service cast (tests/cs_support.py), people passed as their phones."""
    return Cast(app, db, phone, world, jobs, account, clock)


# --- points: a transaction per action, rules files, members, the booking system's API -------
@pytest.fixture
def do(app):
    """do(action, *args) runs action(book, *args) in its own transaction; do.notices is what
    that transaction's Book had to tell."""
    class Desk:
        notices: list = []

        def __call__(self, action, *args, **kwargs):
            with points.transaction(app) as book:
                result = action(book, *args, **kwargs)
            self.notices = book.notices
            return result
    return Desk()


@pytest.fixture
def rules(do):
    return lambda text: do(lambda book: load(book.db, parse(text)))


@pytest.fixture
def member(db):
    def make(phone: str = "13800138000", **fields) -> int:
        row = Member(phone=phone, level="registered", **fields)
        db.add(row)
        db.commit()
        return row.id
    return make


@pytest.fixture
def api(app, db, clock):
    """post(path, body) as the "booking" integration; points_support.RULES in force."""
    db.add(Integration(name="booking", secret=SECRET))
    db.commit()
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    client = app.test_client()

    def post(path, body, name="booking", secret=SECRET, skew=0):
        return signed_post(client, path, body, name, secret, int(clock.timestamp()) + skew)
    return post


@pytest.fixture
def make_member(db):
    def make(phone=PHONE, level="registered") -> Member:
        member = Member(phone=phone, level=level)
        db.add(member)
        db.commit()
        return member
    return make


@pytest.fixture
def alice(make_member):
    return make_member()


# --- operators and the admin API ------------------------------------------------------------
@pytest.fixture
def operators(app, db, account):
    """Three stores' data and the operators boss (hq), c1admin (company C1), samgr (store SA),
    their tokens in .tokens (tests/admin_support.py)."""
    runner = app.test_cli_runner()
    return build_operators(app, db, account, lambda *args: runner.invoke(args=list(args)))


__all__ = ["later", "timedelta"]
