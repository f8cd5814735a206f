"""One access token per AppID, fetched with stable_token and shared through Redis by every client,
thread and process (WECHAT-PLATFORM.md §4.1, §7.1; wechatpy's per-process token, §6.2)."""
import multiprocessing
import os
import threading
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from fakeredis import TcpFakeServer
from redis import Redis
from redis.lock import Lock

from bot import create_app, keys
from bot.clock import FrozenClock
from bot.sandbox.state import SandboxWeChat
from bot.wechat import WeChatError
from wechat_client_support import (STABLE_TOKEN, TAGS_GET, api_calls, client_for, shared_token,
                                   stable_token_calls)
from workers.runtime import job_scope


def test_many_calls_fetch_the_token_once_with_stable_token(app, account, world):
    """Five API calls cost one stable_token fetch and never /cgi-bin/token (§4.1)."""
    client = client_for(app, account)
    for _ in range(5):
        assert client.tag.get()
    assert world.token_fetches(account.appid) == 1
    assert stable_token_calls(world, account.appid) == [False]
    assert world.calls("/cgi-bin/token") == []
    token = shared_token(app.extensions["redis"], account.appid)
    assert api_calls(world, TAGS_GET) == [(0, token)] * 5


def test_the_shared_token_expires_five_minutes_before_the_platform_rolls_it(app, account):
    """Redis keeps the token for expires_in less 300 s: the stable token rolls early (§4.1)."""
    client_for(app, account).tag.get()
    ttl = app.extensions["redis"].ttl(keys.access_token(account.appid))
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


def test_two_clients_share_one_token(app, account, world):
    """Clients built apart (make_client, JobCtx.client) read the token the first fetched (§4.1)."""
    first, second = client_for(app, account), client_for(app, account)
    first.tag.get()
    second.tag.get()
    with app.app_context(), job_scope() as job:
        job.client(account).tag.get()
    assert world.token_fetches(account.appid) == 1
    tokens = {token for _, token in api_calls(world, TAGS_GET)}
    assert tokens == {shared_token(app.extensions["redis"], account.appid)}


def test_ten_threads_on_a_cold_start_fetch_one_token(app, account, world):
    """Ten workers calling at once with no token: the Redis lock lets one fetch (§7.1 stampede)."""
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def work():
        client = client_for(app, account)
        start.wait()
        try:
            client.tag.get()
        except BaseException as exc:   # collected: an exception in a thread fails nothing
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert world.token_fetches(account.appid) == 1
    assert [code for code, _ in api_calls(world, TAGS_GET)] == [0] * 10


def _process(database_url: str, redis_url: str, appid: str, secret: str, now: float,
             start, results) -> None:
    """One worker process: its own app (Redis client, DB engine, in-process sandbox), one call."""
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                          "CLOCK": FrozenClock(datetime.fromtimestamp(now, timezone.utc)),
                          "SANDBOX": True, "JOBS_INLINE": False})
        client = client_for(app, SimpleNamespace(appid=appid, secret=secret))
        start.wait(timeout=10)
        client.tag.get()
        results.put((os.getpid(), shared_token(app.extensions["redis"], appid)))
    except BaseException as exc:
        results.put((os.getpid(), repr(exc)))


@pytest.fixture
def redis_server_url(redis):
    """A Redis other processes can reach: TEST_REDIS_URL, or fakeredis served on a loopback port."""
    if os.environ.get("TEST_REDIS_URL"):   # the suite runs on this server (tests/conftest.py)
        yield os.environ["TEST_REDIS_URL"]
        return
    server = TcpFakeServer(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{server.server_address[1]}/0"
    # TcpFakeServer drops a connection after any error reply, NOSCRIPT included: load the
    # lock's scripts first, as a long-running Redis would have them.
    with Redis.from_url(url) as loader:
        for script in (Lock.LUA_RELEASE_SCRIPT, Lock.LUA_EXTEND_SCRIPT, Lock.LUA_REACQUIRE_SCRIPT):
            loader.script_load(script)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_three_processes_share_one_token(account, database_url, redis_server_url, clock):
    """Three forked processes, each with its own app, on one Redis fetch one token (§4.1)."""
    shared = Redis.from_url(redis_server_url)
    world = SandboxWeChat(shared, clock)
    world.register_account(account.appid, account.secret, account.type, account.verified,
                           account.original_id)
    mp = multiprocessing.get_context("fork")
    start, results = mp.Barrier(3), mp.Queue()
    args = (database_url, redis_server_url, account.appid, account.secret, clock.timestamp(),
            start, results)
    processes = [mp.Process(target=_process, args=args) for _ in range(3)]
    for process in processes:
        process.start()
    try:
        answers = dict(results.get(timeout=20) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    assert sorted(answers) == sorted(process.pid for process in processes)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    tokens = set(answers.values())
    assert tokens == {shared_token(shared, account.appid)}, answers
    assert world.token_fetches(account.appid) == 1
    assert stable_token_calls(world, account.appid) == [False]
    assert {token for _, token in api_calls(world, TAGS_GET)} == tokens
    assert len(world.calls(STABLE_TOKEN)) == 1
    shared.close()


# --- a rejected token: one refresh, one retry, never a loop (§4.1, §4.15; wechatpy §6.2) ---

@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_a_token_error_once_costs_one_refresh_and_one_retry(app, account, world, errcode):
    """One token error: one refresh, one retry, and the call succeeds (§4.15, wechatpy §6.2)."""
    client = client_for(app, account)
    client.tag.get()
    rejected = shared_token(app.extensions["redis"], account.appid)
    world.fail_next(TAGS_GET, errcode, times=1, appid=account.appid)
    assert client.tag.get()
    fresh = shared_token(app.extensions["redis"], account.appid)
    assert fresh != rejected
    assert api_calls(world, TAGS_GET) == [(0, rejected), (errcode, rejected), (0, fresh)]
    # The platform hands the same stable token back, so the one refresh forces a new one.
    assert stable_token_calls(world, account.appid) == [False, False, True]


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_a_token_error_forever_raises_after_one_retry(app, account, world, errcode):
    """A token error on the retry too is final: WeChatError after two calls, one refresh (§6.2)."""
    client = client_for(app, account)
    world.fail_next(TAGS_GET, errcode, times=-1, appid=account.appid)
    with pytest.raises(WeChatError) as failure:
        client.tag.get()
    assert failure.value.errcode == errcode
    assert failure.value.retryable is False
    assert [code for code, _ in api_calls(world, TAGS_GET)] == [errcode, errcode]
    assert stable_token_calls(world, account.appid) == [False, False, True]


def test_a_token_superseded_elsewhere_is_replaced_without_forcing(app, account, world, clock):
    """Superseded by a force refresh elsewhere (40001): a normal refresh suffices (§4.1)."""
    client = client_for(app, account)
    client.tag.get()
    ours = shared_token(app.extensions["redis"], account.appid)
    theirs = world.tokens.stable_token({"grant_type": "client_credential", "appid": account.appid,
                                        "secret": account.secret, "force_refresh": True})
    clock.advance(minutes=6)
    assert client.tag.get()
    assert api_calls(world, TAGS_GET) == [(0, ours), (40001, ours), (0, theirs["access_token"])]
    assert stable_token_calls(world, account.appid) == [False, False]


def test_an_expired_token_is_replaced_without_forcing(app, account, world, clock):
    """Past its two hours the token answers 42001; stable_token then issues a new one (§4.1)."""
    client = client_for(app, account)
    client.tag.get()
    clock.advance(hours=2)
    assert client.tag.get()
    assert [code for code, _ in api_calls(world, TAGS_GET)] == [0, 42001, 0]
    assert stable_token_calls(world, account.appid) == [False, False]


def test_force_refresh_rationing_surfaces_as_an_error_not_a_loop(app, account, world, clock):
    """A second force refresh within 30 s is refused (45011): one WeChatError, no loop (§4.1)."""
    client = client_for(app, account)
    world.fail_next(TAGS_GET, 40001, times=1, appid=account.appid)
    assert client.tag.get()
    forced = shared_token(app.extensions["redis"], account.appid)
    clock.advance(seconds=10)
    world.fail_next(TAGS_GET, 40001, times=1, appid=account.appid)
    with pytest.raises(WeChatError) as failure:
        client.tag.get()
    assert (failure.value.errcode, failure.value.path) == (45011, STABLE_TOKEN)
    assert [call["errcode"] for call in world.calls(STABLE_TOKEN)] == [0, 0, 0, 0, 45011]
    assert stable_token_calls(world, account.appid) == [False, False, True, False, True]
    assert [code for code, _ in api_calls(world, TAGS_GET)] == [40001, 0, 40001]
    assert shared_token(app.extensions["redis"], account.appid) == forced
    assert client.tag.get()
