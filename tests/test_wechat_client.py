"""The one WeChat client (bot/wechat.py): classified errors, a timeout on every HTTP call, every
URL on WECHAT_API_BASE, no secret in any log (WECHAT-PLATFORM.md §4.15, §6.2, §7.1)."""
import logging
import socket
import threading

import pytest
import requests
from requests.adapters import BaseAdapter
from werkzeug.serving import make_server

from bot.sandbox.phone import sandbox_openid
from bot.wechat import WeChatError, make_client
from wechat_client_support import (CUSTOM_SEND, STABLE_TOKEN, TAGS_GET, api_calls, client_for,
                                   shared_token)

SECRET = "app-secret-7f3c9a1e5b"


@pytest.fixture
def alice(account, world):
    """A fan who just wrote to the account: their customer-service window is open (§4.7)."""
    openid = sandbox_openid(account.slug, "alice")
    world.user_event(account.appid, openid, "message")
    return openid


@pytest.fixture
def sent(app):
    """(url, timeout) of every request on the app's HTTP session; a URL off the API base fails."""
    http, base = app.extensions["http"], app.config["WECHAT_API_BASE"]
    real_send, record = http.send, []

    def send(request, **kwargs):
        record.append((request.url, kwargs.get("timeout")))
        assert request.url.startswith(base + "/"), f"left the API base: {request.url}"
        return real_send(request, **kwargs)
    http.send = send
    return record


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Unanswered(BaseAdapter):
    """A transport whose every request times out."""

    def send(self, request, **kwargs):
        raise requests.ReadTimeout("read timed out", request=request)

    def close(self):
        pass


# --- errors, classified once (§4.15) ---------------------------------------------------------

@pytest.mark.parametrize("errcode, retryable", [
    (-1, True), (45015, False), (45047, False), (48001, False), (43004, False)])
def test_send_errors_carry_their_errcode_and_whether_to_retry(app, account, world, alice,
                                                                errcode, retryable):
    """-1 is worth retrying, 45015/45047/48001/43004 are not; none is repeated (§4.15)."""
    world.fail_next(CUSTOM_SEND, errcode, times=1, appid=account.appid)
    with pytest.raises(WeChatError) as failure:
        client_for(app, account).message.send_text(alice, "你好")
    assert (failure.value.errcode, failure.value.retryable) == (errcode, retryable)
    assert failure.value.path == CUSTOM_SEND
    assert [code for code, _ in api_calls(world, CUSTOM_SEND)] == [errcode]


def test_a_closed_window_is_the_platforms_own_45015(app, account, world, clock):
    """A follow opens 3 messages for a minute; after it: 45015, not retryable (§4.7)."""
    bob = sandbox_openid(account.slug, "bob")
    world.user_event(account.appid, bob, "follow")
    clock.advance(minutes=2)
    with pytest.raises(WeChatError) as failure:
        client_for(app, account).message.send_text(bob, "hi")
    assert (failure.value.errcode, failure.value.retryable) == (45015, False)


def test_an_api_call_that_times_out_is_retryable_with_no_errcode(app, account, world, alice):
    """No answer means the call may not have happened: errcode None, retryable (§4.15, §6.2)."""
    app.extensions["http"].mount(f"{app.config['WECHAT_API_BASE']}/cgi-bin/message/", Unanswered())
    with pytest.raises(WeChatError) as failure:
        client_for(app, account).message.send_text(alice, "你好")
    assert (failure.value.errcode, failure.value.retryable) == (None, True)
    assert failure.value.path == CUSTOM_SEND
    assert world.calls(CUSTOM_SEND) == []


def test_a_token_fetch_that_times_out_is_retryable_with_no_errcode(app, account, world):
    """A token fetch without an answer fails the same way, before any API call (§4.1)."""
    app.extensions["http"].mount(f"{app.config['WECHAT_API_BASE']}{STABLE_TOKEN}", Unanswered())
    with pytest.raises(WeChatError) as failure:
        client_for(app, account).tag.get()
    assert (failure.value.errcode, failure.value.retryable, failure.value.path) == (
        None, True, STABLE_TOKEN)
    assert world.calls() == []


def test_a_refused_connection_is_retryable_with_no_errcode(app, account):
    """Nothing listening: the token fetch, then the call itself, fail retryably (§4.15)."""
    base = f"http://127.0.0.1:{closed_port()}/sandbox/api"
    with pytest.raises(WeChatError) as failure:
        client_for(app, account, base).tag.get()
    assert (failure.value.errcode, failure.value.retryable, failure.value.path) == (
        None, True, STABLE_TOKEN)
    client_for(app, account).tag.get()   # a token in Redis: now the API call itself is refused
    with pytest.raises(WeChatError) as failure:
        client_for(app, account, base).tag.get()
    assert (failure.value.errcode, failure.value.retryable, failure.value.path) == (
        None, True, TAGS_GET)


# --- every call: a timeout, and the API base (§6.2) -------------------------------------------

def test_every_request_carries_the_configured_timeout(app, account, world, alice, sent):
    """Token fetch, messages, templates, tags, menu, QR, users, kf: none waits forever (§6.2)."""
    client = client_for(app, account)
    client.message.send_text(alice, "你好")
    client.message.send_template(alice, account.notice_template_id, {"count": {"value": "1"}})
    tag = client.tag.create("VIP")
    client.tag.tag_user(tag["id"], [alice])
    client.tag.get()
    client.menu.create({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
    client.menu.get()
    client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                          "action_info": {"scene": {"scene_str": "poster"}}})
    client.user.get(alice)
    client.user.get_followers()
    client.customservice.add_account("kf2001@hq", "小王", "unused")
    client.customservice.get_accounts()
    client.customservice.get_session_list("kf2001@hq")
    client.customservice.get_wait_case()
    paths = {url.split("/sandbox/api", 1)[1].split("?", 1)[0] for url, _ in sent}
    assert {STABLE_TOKEN, CUSTOM_SEND, "/cgi-bin/message/template/send", "/cgi-bin/tags/create",
            "/cgi-bin/menu/create", "/cgi-bin/qrcode/create", "/cgi-bin/user/info",
            "/customservice/kfaccount/add", "/customservice/kfsession/getwaitcase"} <= paths
    assert {timeout for _, timeout in sent} == {app.config["WECHAT_HTTP_TIMEOUT"]}
    assert [call["errcode"] for call in world.calls()] == [0] * len(sent)


@pytest.mark.parametrize("call", [
    lambda c: c.customservice.get_session(sandbox_openid("hq", "alice")),
    lambda c: c.semantic.search("查一下", "restaurant", city="北京"),
    lambda c: c.datacube.get_user_summary("2026-11-01", "2026-11-07"),
    lambda c: c.card.get_colors(),
    lambda c: c.wxa.create_qrcode("pages/index"),
    lambda c: c.marketing.get_user_action_sets(1),
    lambda c: c.scan.get_merchant_info(),
    lambda c: c.wifi.list_shops(),
    lambda c: c.invoice.get_url(),
    lambda c: c.device.create_qrcode(["dev-1"]),
], ids=["customservice", "semantic", "datacube", "card", "wxa", "marketing", "scan", "wifi",
        "invoice", "device"])
def test_api_groups_with_their_own_absolute_base_stay_on_the_api_base(app, account, world, alice,
                                                                        sent, call):
    """API groups wechatpy pins to https://api.weixin.qq.com still reach the sandbox (§6.2)."""
    try:
        call(client_for(app, account))
    except WeChatError as exc:
        assert exc.errcode == 40066
    assert len(sent) == 2
    assert all(call["errcode"] in (0, 40066) for call in world.calls())
    assert len(world.calls()) == 2


# --- secrets stay out of logs -----------------------------------------------------------------

@pytest.fixture
def wechat_over_http(app):
    """The app (and so the sandbox) served on a loopback port: requests go through urllib3."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/sandbox/api"
    server.shutdown()
    thread.join(timeout=5)


def test_no_secret_or_token_reaches_the_logs(app, make_account, world, caplog, wechat_over_http):
    """At DEBUG, urllib3 and error tracebacks included, no AppSecret or access token is logged."""
    account = make_account(secret=SECRET)
    caplog.set_level(logging.DEBUG)
    ext, timeout = app.extensions, app.config["WECHAT_HTTP_TIMEOUT"]
    over_http = make_client(account, ext["redis"], requests.Session(), wechat_over_http, timeout)
    over_http.tag.get()
    world.fail_next(TAGS_GET, 40001, times=-1, appid=account.appid)
    with pytest.raises(WeChatError):
        over_http.tag.get()
    refused = client_for(app, account, f"http://127.0.0.1:{closed_port()}/sandbox/api")
    try:
        refused.tag.get()
    except WeChatError:
        logging.getLogger("workers.messaging").exception("job failed")   # as rq logs a failure
    tokens = {token for _, token in api_calls(world, TAGS_GET)}
    assert shared_token(ext["redis"], account.appid) in tokens and len(tokens) == 2
    formatter = logging.Formatter("%(name)s %(message)s")
    # werkzeug's access log belongs to the stand-in WeChat server, not to this service.
    logged = [formatter.format(r) for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any("urllib3" in line and "/cgi-bin/tags/get?access_token=***" in line
               for line in logged)
    assert any("Traceback" in line and "ConnectionError" in line for line in logged)
    for line in logged:
        assert SECRET not in line
        assert not any(token in line for token in tokens), line
