"""The sandbox API: OAuth (§4.11), scripted failures, the call record, odd requests."""
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox_support import API, AUTHORIZE, SERVICE, SUB, Api, errcode, secret_of, qr


# --- §4.11 OAuth ---------------------------------------------------------------------------------

def sign_in(api: Api, openid: str, scope: str = "snsapi_base", appid: str = SERVICE) -> str:
    """Walk the authorize page as a person; the code WeChat hands the H5 page."""
    query = {"appid": appid, "redirect_uri": "https://h5.example.com/cb?from=menu",
             "response_type": "code", "scope": scope, "state": "abc123"}
    form = api.client.get(AUTHORIZE, query_string=query)
    assert "sign in as openid" in form.get_data(as_text=True)
    response = api.client.get(AUTHORIZE, query_string={**query, "openid": openid, "confirm": "1"})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("h5.example.com", "/cb")
    params = parse_qs(target.query)
    assert params["state"] == ["abc123"] and params["from"] == ["menu"]
    return params["code"][0]


def exchange(api: Api, code: str, secret: str = secret_of(SERVICE)) -> dict[str, Any]:
    return api.get_raw("/sns/oauth2/access_token", appid=SERVICE, secret=secret, code=code,
                       grant_type="authorization_code")


def test_oauth_code_is_single_use(api, wx):
    code = sign_in(api, "o_h5")
    grant = exchange(api, code)
    assert (grant["openid"], grant["scope"], grant["expires_in"]) == ("o_h5", "snsapi_base", 7200)
    assert "unionid" not in grant
    assert errcode(exchange(api, code)) == 40029
    assert errcode(api.get_raw("/sns/userinfo", access_token=grant["access_token"],
                               openid="o_h5")) == 48001


def test_oauth_code_expires_after_five_minutes(api, clock):
    code = sign_in(api, "o_h5")
    clock.advance(seconds=300)
    assert errcode(exchange(api, code)) == 40029


def test_oauth_wrong_secret(api):
    assert errcode(exchange(api, sign_in(api, "o_h5"), secret="wrong")) == 40125


def test_oauth_userinfo_scope_gives_nickname_and_unionid(api, wx):
    wx.set_unionid(SERVICE, "o_h5", "union-1")
    grant = exchange(api, sign_in(api, "o_h5", scope="snsapi_userinfo"))
    assert grant["unionid"] == "union-1"
    info = api.get_raw("/sns/userinfo", access_token=grant["access_token"], openid="o_h5")
    assert (info["nickname"], info["unionid"]) == ("沙盒用户", "union-1")
    assert errcode(api.get_raw("/sns/userinfo", access_token=grant["access_token"],
                               openid="o_other")) == 40003
    refreshed = api.get_raw("/sns/oauth2/refresh_token", appid=SERVICE,
                            grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert refreshed["openid"] == "o_h5" and refreshed["access_token"] != grant["access_token"]


# --- scripted failures, the record, odd requests -------------------------------------------------

@pytest.mark.parametrize("code", [40001, 42001, -1, 45009, 45015, 45047, 48001, 40164])
def test_fail_next_once(api, wx, code):
    wx.user_event(SERVICE, "o1", "message")
    wx.fail_next("/cgi-bin/message/custom/send", code)
    assert api.send_text("o1") == code
    assert api.send_text("o1") == 0
    assert len(wx.messages_to(SERVICE, "o1")) == 1


def test_fail_next_forever_until_cleared_and_per_account(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    wx.user_event(SUB, "o2", "message")
    wx.fail_next("cgi-bin/message/custom/send", 40001, times=-1, appid=SERVICE)
    assert [api.send_text("o1") for _ in range(3)] == [40001] * 3
    assert api.send_text("o2", appid=SUB) == 0
    wx.clear_failures()
    assert api.send_text("o1") == 0


def test_fail_next_twice_on_token_fetch(api, wx):
    wx.fail_next("/cgi-bin/stable_token", 40164, times=2)
    assert [errcode(api.token()) for _ in range(3)] == [40164, 40164, 0]
    assert wx.token_fetches(SERVICE) == 1


def test_hang_next_after_two_holds_back_only_the_third_answer(api, wx):
    """The third call takes effect, then its answer waits; the first two and the fourth do not."""
    wx.user_event(SERVICE, "o1", "message")
    wx.hang_next("/cgi-bin/message/custom/send", 2.0, after=2)
    waited = []
    for n in range(4):
        started = time.monotonic()
        assert api.send_text("o1", f"第{n + 1}条") == 0
        waited.append(time.monotonic() - started >= 2.0)
    assert waited == [False, False, True, False]
    assert [m["content"] for m in wx.messages_to(SERVICE, "o1")] == ["第1条", "第2条", "第3条", "第4条"]


def test_calls_records_everything_in_order_with_the_secret_masked(api, wx):
    wx.user_event(SERVICE, "o1", "follow")
    api.plain_token(secret="wrong")
    api.send_text("o1", "hi")
    recorded = wx.calls()
    assert [(c["path"], c["errcode"]) for c in recorded] == [
        ("/cgi-bin/token", 40001), ("/cgi-bin/stable_token", 0),
        ("/cgi-bin/message/custom/send", 0)]
    assert recorded[0]["query"]["secret"] == "***"
    assert recorded[1]["body"]["secret"] == "***"
    assert all(secret_of(SERVICE) not in str(c) and "wrong" not in str(c) for c in recorded)
    send = wx.calls("/cgi-bin/message/custom/send", appid=SERVICE)[0]
    assert (send["method"], send["appid"]) == ("POST", SERVICE)
    assert send["body"]["text"] == {"content": "hi"}
    assert wx.calls(appid=SUB) == []


@pytest.mark.parametrize("method, path, expected", [
    ("get", "/cgi-bin/no/such/api", 40066),
    ("get", "/cgi-bin/message/custom/send", 43002),
    ("post", "/cgi-bin/menu/get", 43001),
])
def test_unknown_paths_and_wrong_methods(api, method, path, expected):
    token = api.token()["access_token"]
    answer = getattr(api, f"{method}_raw")(path, *([{}] if method == "post" else []),
                                           access_token=token)
    assert errcode(answer) == expected


def test_bad_bodies(api):
    token = api.token()["access_token"]
    url = API + "/cgi-bin/tags/create"
    empty = api.client.post(url, query_string={"access_token": token}, data=b"")
    broken = api.client.post(url, query_string={"access_token": token}, data=b"{nope")
    assert (errcode(empty.get_json()), errcode(broken.get_json())) == (44002, 47001)


def test_reset_deletes_every_sandbox_key_and_nothing_else(app, api, wx):
    redis = app.extensions["redis"]
    redis.set("conv:demo:o1", "keep me")
    wx.user_event(SERVICE, "o1", "message")
    api.send_text("o1")
    wx.reset()
    assert [k for k in redis.scan_iter() if k.startswith(b"sandbox:")] == []
    assert redis.get("conv:demo:o1") == b"keep me"
    assert errcode(api.token()) == 40013


def test_every_sandbox_key_has_a_ttl_or_is_world_state(app, api, wx):
    """Keys without a TTL are only the documented world state (bot/sandbox/keys.py)."""
    wx.user_event(SERVICE, "o1", "message")
    api.send_text("o1")
    api.upload(SERVICE, "image", b"img", "a.png")
    api.post("/cgi-bin/qrcode/create", qr("QR_SCENE", {"scene_id": 5}))
    redis = app.extensions["redis"]
    world = re.compile(rb"^sandbox:(account|fan|followers|seq|limits|tags|menu|cmenus|qr-perm|kf)")
    forever = [k for k in redis.scan_iter() if redis.ttl(k) == -1 and not world.match(k)]
    assert forever == []
