"""The sandbox's fake WeChat server API enforces WeChat's rules (WECHAT-PLATFORM.md §4, §5).

Each test drives the blueprints over HTTP with Flask's test client, the way the product's
WeChat client will, and moves a frozen clock for every time rule.
"""
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest
from flask import Flask

from bot.clock import FrozenClock
from bot.sandbox.api import api_blueprint, oauth_blueprint
from bot.sandbox.state import SandboxWeChat

API = "/sandbox/api"
AUTHORIZE = "/sandbox/open/connect/oauth2/authorize"

SERVICE = "wx_service"          # verified service account (HQ)
SUB = "wx_sub_verified"         # verified subscription account
SUB_RAW = "wx_sub_unverified"   # unverified subscription account
SERVICE_RAW = "wx_service_unverified"
ACCOUNTS = {
    SERVICE: ("service", True),
    SUB: ("subscription", True),
    SUB_RAW: ("subscription", False),
    SERVICE_RAW: ("service", False),
}


def secret_of(appid: str) -> str:
    """The AppSecret the fixture registers for an account."""
    return f"secret-of-{appid}"


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.extensions["redis"] = fakeredis.FakeRedis()
    app.extensions["clock"] = FrozenClock()
    app.register_blueprint(api_blueprint, url_prefix="/sandbox/api")
    app.register_blueprint(oauth_blueprint, url_prefix="/sandbox/open")
    return app


@pytest.fixture
def clock(app: Flask) -> FrozenClock:
    return app.extensions["clock"]


@pytest.fixture
def wx(app: Flask) -> SandboxWeChat:
    sandbox = SandboxWeChat(app.extensions["redis"], app.extensions["clock"])
    for appid, (kind, verified) in ACCOUNTS.items():
        sandbox.register_account(appid, secret_of(appid), kind, verified, f"gh_{appid}")
    return sandbox


class Api:
    """Calls the fake API like a WeChat client: JSON in, JSON out, a stable token per call."""

    def __init__(self, app: Flask):
        self.client = app.test_client()

    def token(self, appid: str = SERVICE, **extra: Any) -> dict[str, Any]:
        return self.post_raw("/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": appid, "secret": secret_of(appid),
            **extra})

    def plain_token(self, appid: str = SERVICE, secret: str | None = None) -> dict[str, Any]:
        return self.get_raw("/cgi-bin/token", grant_type="client_credential", appid=appid,
                            secret=secret_of(appid) if secret is None else secret)

    def get(self, path: str, appid: str = SERVICE, **query: Any) -> dict[str, Any]:
        if "access_token" not in query:
            query["access_token"] = self.token(appid)["access_token"]
        return self.get_raw(path, **query)

    def post(self, path: str, body: Any, appid: str = SERVICE, **query: Any) -> dict[str, Any]:
        if "access_token" not in query:
            query["access_token"] = self.token(appid)["access_token"]
        return self.post_raw(path, body, **query)

    def get_raw(self, path: str, **query: Any) -> dict[str, Any]:
        response = self.client.get(API + path, query_string=query)
        assert response.status_code == 200
        return response.get_json()

    def post_raw(self, path: str, body: Any, **query: Any) -> dict[str, Any]:
        response = self.client.post(API + path, query_string=query, json=body)
        assert response.status_code == 200
        return response.get_json()

    def upload(self, appid: str, media_type: str, data: bytes, filename: str) -> dict[str, Any]:
        token = self.token(appid)["access_token"]
        response = self.client.post(
            API + "/cgi-bin/media/upload", query_string={"access_token": token, "type": media_type},
            data={"media": (io.BytesIO(data), filename)}, content_type="multipart/form-data")
        return response.get_json()

    def send_text(self, openid: str, content: str = "你好", appid: str = SERVICE) -> int:
        answer = self.post("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": content}}, appid=appid)
        return errcode(answer)


@pytest.fixture
def api(app: Flask, wx: SandboxWeChat) -> Api:
    return Api(app)


def errcode(answer: dict[str, Any]) -> int:
    """WeChat leaves errcode out of many successful answers; that means 0."""
    return int(answer.get("errcode", 0))


# --- §4.1 access_token ---------------------------------------------------------------------------

def test_cgi_token_is_new_every_call_and_the_old_one_lasts_five_more_minutes(api, wx, clock):
    first = api.plain_token()["access_token"]
    second = api.plain_token()["access_token"]
    assert first != second
    assert wx.token_fetches(SERVICE) == 2
    clock.advance(seconds=299)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=first)) == 0
    clock.advance(seconds=2)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=first)) == 40001
    assert errcode(api.get("/cgi-bin/tags/get", access_token=second)) == 0


def test_cgi_token_expires_after_7200_seconds(api, clock):
    token = api.plain_token()["access_token"]
    clock.advance(seconds=7199)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=token)) == 0
    clock.advance(seconds=1)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=token)) == 42001


def test_cgi_token_daily_quota(api, wx):
    wx.set_limit("daily:/cgi-bin/token", 3)
    assert [errcode(api.plain_token()) for _ in range(4)] == [0, 0, 0, 45009]
    assert wx.token_fetches(SERVICE) == 3


def test_stable_token_returns_the_same_token_until_five_minutes_before_expiry(api, wx, clock):
    first = api.token()
    assert first["expires_in"] == 7200
    clock.advance(seconds=1000)
    again = api.token()
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 6200
    clock.advance(seconds=7200 - 300 - 1000)
    rolled = api.token()
    assert rolled["access_token"] != first["access_token"]
    assert rolled["expires_in"] == 7200
    assert errcode(api.get("/cgi-bin/tags/get", access_token=first["access_token"])) == 0
    clock.advance(seconds=300)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=first["access_token"])) == 42001
    assert wx.token_fetches(SERVICE) == 3


def test_stable_token_is_isolated_from_cgi_token(api, clock):
    stable = api.token()["access_token"]
    api.plain_token()
    clock.advance(seconds=600)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=stable)) == 0


def test_stable_token_force_refresh_spacing_and_daily_limit(api, wx, clock):
    wx.set_limit("stable_force_per_day", 2)
    old = api.token()["access_token"]
    forced = api.token(force_refresh=True)
    assert errcode(forced) == 0 and forced["access_token"] != old
    assert errcode(api.token(force_refresh=True)) == 45011
    clock.advance(seconds=30)
    assert errcode(api.token(force_refresh=True)) == 0
    clock.advance(seconds=30)
    assert errcode(api.token(force_refresh=True)) == 45009
    clock.advance(seconds=301)
    assert errcode(api.get("/cgi-bin/tags/get", access_token=old)) == 40001


@pytest.mark.parametrize("query, expected", [
    ({"appid": SERVICE, "secret": "wrong"}, 40001),
    ({"appid": "wx_nobody", "secret": "x"}, 40013),
    ({"secret": "x"}, 41002),
    ({"appid": SERVICE}, 41004),
    ({"appid": SERVICE, "secret": secret_of(SERVICE), "grant_type": "password"}, 40002),
])
def test_token_fetch_errors(api, wx, query, expected):
    assert errcode(api.get_raw("/cgi-bin/token", **{"grant_type": "client_credential", **query})) \
        == expected
    body = {"grant_type": "client_credential", **query}
    assert errcode(api.post_raw("/cgi-bin/stable_token", body)) == expected
    assert wx.token_fetches(SERVICE) == 0


@pytest.mark.parametrize("token, expected", [(None, 41001), ("", 41001), ("garbage", 40001)])
def test_calls_need_a_real_token(api, token, expected):
    query = {} if token is None else {"access_token": token}
    assert errcode(api.get_raw("/cgi-bin/tags/get", **query)) == expected


def test_a_token_acts_only_for_its_own_account(api, wx):
    wx.user_event(SUB, "o_sub", "message")
    wx.user_event(SERVICE, "o_hq", "message")
    assert api.send_text("o_sub", appid=SERVICE) == 40003
    assert api.send_text("o_hq", appid=SUB) == 40003
    assert api.send_text("o_hq", appid=SERVICE) == 0


def test_jsapi_ticket_stays_the_same_until_it_expires(api, clock):
    first = api.get("/cgi-bin/ticket/getticket", type="jsapi")
    assert first["errcode"] == 0 and first["expires_in"] == 7200
    clock.advance(seconds=3600)
    assert api.get("/cgi-bin/ticket/getticket", type="jsapi")["ticket"] == first["ticket"]
    clock.advance(seconds=3600)
    assert api.get("/cgi-bin/ticket/getticket", type="jsapi")["ticket"] != first["ticket"]


# --- §5.1 capabilities ---------------------------------------------------------------------------

def _try_group(api: Api, appid: str, group: str) -> int:
    """One call of an API group; 48001 when the account may not use it."""
    calls = {
        "cs": lambda: api.send_text("o_nobody", appid=appid),
        "menu": lambda: errcode(api.get("/cgi-bin/menu/get", appid=appid)),
        "users": lambda: errcode(api.get("/cgi-bin/tags/get", appid=appid)),
        "media": lambda: errcode(api.upload(appid, "image", b"\x89PNG", "a.png")),
        "qrcode": lambda: errcode(api.post("/cgi-bin/qrcode/create", {
            "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 7}}}, appid=appid)),
        "template": lambda: errcode(api.post("/cgi-bin/message/template/send", {
            "touser": "o_nobody", "template_id": "t1", "data": {}}, appid=appid)),
        "kf": lambda: errcode(api.get("/cgi-bin/customservice/getkflist", appid=appid)),
        "oauth": lambda: errcode(api.get_raw("/sns/oauth2/access_token", appid=appid,
                                             secret=secret_of(appid), code="nope",
                                             grant_type="authorization_code")),
        "jsapi": lambda: errcode(api.get("/cgi-bin/ticket/getticket", appid=appid, type="jsapi")),
    }
    return calls[group]()


VERIFIED_GROUPS = {"cs", "menu", "users", "media", "jsapi"}
SERVICE_GROUPS = VERIFIED_GROUPS | {"qrcode", "template", "kf", "oauth"}
ALLOWED = {SERVICE: SERVICE_GROUPS, SUB: VERIFIED_GROUPS, SUB_RAW: {"jsapi"},
           SERVICE_RAW: {"jsapi"}}


@pytest.mark.parametrize("appid", list(ACCOUNTS))
@pytest.mark.parametrize("group", sorted(SERVICE_GROUPS))
def test_permission_matrix(api, appid, group):
    result = _try_group(api, appid, group)
    if group in ALLOWED[appid]:
        assert result != 48001
    else:
        assert result == 48001


@pytest.mark.parametrize("appid, shows_form", [(SERVICE, True), (SUB, False), (SUB_RAW, False)])
def test_oauth_page_only_for_verified_service_accounts(api, appid, shows_form):
    page = api.client.get(AUTHORIZE, query_string={
        "appid": appid, "redirect_uri": "https://h5.example.com/cb", "response_type": "code",
        "scope": "snsapi_base", "state": "s1"}).get_data(as_text=True)
    assert ("sign in as openid" in page) is shows_form
    assert ("10005" in page) is not shows_form


# --- §4.7 customer-service windows ---------------------------------------------------------------

def test_follow_opens_three_messages_for_one_minute(api, wx, clock):
    wx.user_event(SERVICE, "o1", "follow")
    assert [api.send_text("o1") for _ in range(4)] == [0, 0, 0, 45047]
    clock.advance(seconds=61)
    assert api.send_text("o1") == 45015
    assert len(wx.messages_to(SERVICE, "o1")) == 3


@pytest.mark.parametrize("kind", ["click", "scan"])
def test_click_and_scan_open_the_one_minute_budget(api, wx, clock, kind):
    wx.user_event(SERVICE, "o1", "follow")
    clock.advance(seconds=120)
    assert api.send_text("o1") == 45015
    wx.user_event(SERVICE, "o1", kind)
    assert [api.send_text("o1") for _ in range(4)] == [0, 0, 0, 45047]


def test_user_message_opens_five_messages_for_48_hours(api, wx, clock):
    wx.user_event(SERVICE, "o1", "message")
    clock.advance(seconds=120)
    assert [api.send_text("o1") for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    wx.user_event(SERVICE, "o1", "message")
    assert api.send_text("o1") == 0
    clock.advance(hours=48)
    assert api.send_text("o1") == 45015


def test_sends_spend_the_one_minute_budget_first(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    wx.user_event(SERVICE, "o1", "click")
    assert [api.send_text("o1") for _ in range(9)] == [0] * 8 + [45047]
    window = wx.cs_window(SERVICE, "o1")
    assert (window["evt_used"], window["msg_used"]) == (3, 5)


def test_unfollowed_fan_gets_45015(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    wx.user_event(SERVICE, "o1", "unfollow")
    assert api.send_text("o1") == 45015
    assert wx.messages_to(SERVICE, "o1") == []


def test_text_over_2048_bytes_is_refused_without_spending_budget(api, wx):
    wx.user_event(SERVICE, "o1", "follow")
    assert api.send_text("o1", "好" * 683) == 45002
    assert api.send_text("o1", "好" * 682 + "ab") == 0
    assert [api.send_text("o1") for _ in range(3)] == [0, 0, 45047]


def test_delivered_messages_are_recorded_in_order(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    api.send_text("o1", "一")
    api.send_text("o1", "二")
    assert [(m["kind"], m["msgtype"], m["content"]) for m in wx.messages_to(SERVICE, "o1")] == \
        [("custom", "text", "一"), ("custom", "text", "二")]
    assert wx.messages_to(SERVICE, "o1")[0]["payload"]["touser"] == "o1"


def test_image_message_needs_uploaded_media(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    body = {"touser": "o1", "msgtype": "image", "image": {"media_id": "nope"}}
    assert errcode(api.post("/cgi-bin/message/custom/send", body)) == 40007
    media_id = api.upload(SERVICE, "image", b"\x89PNG" * 10, "poster.png")["media_id"]
    body["image"]["media_id"] = media_id
    assert errcode(api.post("/cgi-bin/message/custom/send", body)) == 0


def test_typing_is_accepted_and_recorded(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    body = {"touser": "o1", "command": "Typing"}
    assert errcode(api.post("/cgi-bin/message/custom/typing", body)) == 0
    assert wx.calls("/cgi-bin/message/custom/typing")[0]["body"] == body


# --- §4.8 template messages ----------------------------------------------------------------------

def test_template_send_needs_a_follower_and_returns_msgid(api, wx):
    body = {"touser": "o1", "template_id": "tpl", "url": "https://h5.example.com",
            "data": {"thing1": {"value": "积分到账"}}}
    wx.user_event(SERVICE, "o1", "follow")
    wx.user_event(SERVICE, "o1", "unfollow")
    assert errcode(api.post("/cgi-bin/message/template/send", body)) == 43004
    wx.user_event(SERVICE, "o1", "follow")
    answer = api.post("/cgi-bin/message/template/send", body)
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    assert [(m["kind"], m["payload"]["template_id"]) for m in wx.messages_to(SERVICE, "o1")] == \
        [("template", "tpl")]
    assert errcode(api.post("/cgi-bin/message/template/send", body, appid=SUB)) == 48001


# --- §4.2 QR codes -------------------------------------------------------------------------------

def qr(action: str, scene: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"action_name": action, "action_info": {"scene": scene}, **extra}


@pytest.mark.parametrize("body, expected", [
    (qr("QR_SCENE", {"scene_id": 0}), 40053),
    (qr("QR_SCENE", {"scene_id": 2**32}), 40053),
    (qr("QR_SCENE", {"scene_str": "x"}), 40053),
    (qr("QR_LIMIT_SCENE", {"scene_id": 0}), 40053),
    (qr("QR_LIMIT_SCENE", {"scene_id": 100_001}), 40053),
    (qr("QR_STR_SCENE", {"scene_str": ""}), 40053),
    (qr("QR_LIMIT_STR_SCENE", {"scene_str": "x" * 65}), 40053),
    (qr("QR_FANCY", {"scene_id": 1}), 40097),
    (qr("QR_SCENE", {"scene_id": 1}, expire_seconds=0), 40097),
    (qr("QR_SCENE", {"scene_id": 2**32 - 1}), 0),
    (qr("QR_LIMIT_SCENE", {"scene_id": 100_000}), 0),
    (qr("QR_LIMIT_STR_SCENE", {"scene_str": "x" * 64}), 0),
])
def test_qrcode_arguments(api, body, expected):
    assert errcode(api.post("/cgi-bin/qrcode/create", body)) == expected


@pytest.mark.parametrize("asked, granted", [(None, 60), (3600, 3600), (2_592_001, 2_592_000)])
def test_temporary_qrcode_expiry_default_and_clamp(api, wx, clock, asked, granted):
    extra = {} if asked is None else {"expire_seconds": asked}
    answer = api.post("/cgi-bin/qrcode/create", qr("QR_STR_SCENE", {"scene_str": "b:t"}, **extra))
    assert answer["expire_seconds"] == granted
    assert answer["url"].startswith("http://weixin.qq.com/q/")
    code = wx.qrcode(SERVICE, answer["ticket"])
    assert (code["scene_str"], code["permanent"], code["expired"]) == ("b:t", False, False)
    clock.advance(seconds=granted)
    assert wx.qrcode(SERVICE, answer["ticket"])["expired"] is True


def test_permanent_qrcodes_count_once_per_scene_up_to_the_quota(api, wx):
    wx.set_limit("permanent_qrcodes", 2)
    first = api.post("/cgi-bin/qrcode/create", qr("QR_LIMIT_SCENE", {"scene_id": 1}))
    assert "expire_seconds" not in first
    assert api.post("/cgi-bin/qrcode/create", qr("QR_LIMIT_SCENE", {"scene_id": 1}))["ticket"] \
        == first["ticket"]
    assert errcode(api.post("/cgi-bin/qrcode/create", qr("QR_LIMIT_STR_SCENE",
                                                         {"scene_str": "store:9"}))) == 0
    assert errcode(api.post("/cgi-bin/qrcode/create", qr("QR_LIMIT_SCENE", {"scene_id": 2}))) \
        == 40097
    assert errcode(api.post("/cgi-bin/qrcode/create", qr("QR_SCENE", {"scene_id": 2}))) == 0
    assert [c["permanent"] for c in wx.qrcodes(SERVICE)] == [True, True, False]


def test_follow_by_qrcode_shows_in_user_info(api, wx, clock):
    ticket = api.post("/cgi-bin/qrcode/create",
                      qr("QR_STR_SCENE", {"scene_str": "ref:42"}))["ticket"]
    wx.user_event(SERVICE, "o1", "follow", ticket=ticket)
    info = api.get("/cgi-bin/user/info", openid="o1")
    assert (info["subscribe_scene"], info["qr_scene_str"]) == ("ADD_SCENE_QR_CODE", "ref:42")
    clock.advance(seconds=61)
    with pytest.raises(ValueError):
        wx.user_event(SERVICE, "o2", "follow", ticket=ticket)


# --- §4.3 users ----------------------------------------------------------------------------------

def test_user_info_without_nickname_and_unionid_only_when_set(api, wx, clock):
    wx.user_event(SERVICE, "o1", "follow")
    info = api.get("/cgi-bin/user/info", openid="o1", lang="zh_CN")
    assert info["subscribe"] == 1 and info["subscribe_time"] == int(clock.timestamp())
    assert not {"nickname", "headimgurl", "sex", "unionid"} & set(info)
    wx.set_unionid(SERVICE, "o1", "u1")
    assert api.get("/cgi-bin/user/info", openid="o1")["unionid"] == "u1"
    wx.user_event(SERVICE, "o1", "unfollow")
    assert api.get("/cgi-bin/user/info", openid="o1") == {"subscribe": 0, "openid": "o1"}
    assert errcode(api.get("/cgi-bin/user/info", openid="o_stranger")) == 40003


def test_user_batchget_and_list(api, wx):
    for n in range(3):
        wx.user_event(SERVICE, f"o{n}", "follow")
    wx.user_event(SERVICE, "o1", "unfollow")
    batch = api.post("/cgi-bin/user/info/batchget",
                     {"user_list": [{"openid": "o0"}, {"openid": "o1"}]})
    assert [u["subscribe"] for u in batch["user_info_list"]] == [1, 0]
    too_many = {"user_list": [{"openid": "o0"}] * 101}
    assert errcode(api.post("/cgi-bin/user/info/batchget", too_many)) == 40032
    listing = api.get("/cgi-bin/user/get")
    assert (listing["total"], listing["data"]["openid"]) == (2, ["o0", "o2"])
    assert api.get("/cgi-bin/user/get", next_openid="o0")["data"]["openid"] == ["o2"]


# --- §4.4 tags -----------------------------------------------------------------------------------

def create_tag(api: Api, name: str, appid: str = SERVICE) -> dict[str, Any]:
    return api.post("/cgi-bin/tags/create", {"tag": {"name": name}}, appid=appid)


def tagging(api: Api, openids: list[str], tag_id: int, untag: bool = False) -> int:
    path = "/cgi-bin/tags/members/batch" + ("untagging" if untag else "tagging")
    return errcode(api.post(path, {"openid_list": openids, "tagid": tag_id}))


def test_tag_ids_start_at_100_and_the_101st_tag_is_refused(api, wx):
    ids = [create_tag(api, f"t{n}")["tag"]["id"] for n in range(100)]
    assert ids == list(range(100, 200))
    assert errcode(create_tag(api, "one too many")) == 45056


@pytest.mark.parametrize("name, expected", [
    ("好" * 10, 0), ("好" * 11, 45158), ("", 45157), ("星标组", 45157), ("dup", 45157)])
def test_tag_names(api, name, expected):
    create_tag(api, "dup")
    assert errcode(create_tag(api, name)) == expected


@pytest.mark.parametrize("path, body", [
    ("/cgi-bin/tags/update", {"tag": {"id": 2, "name": "x"}}),
    ("/cgi-bin/tags/delete", {"tag": {"id": 1}}),
    ("/cgi-bin/tags/members/batchtagging", {"openid_list": ["o1"], "tagid": 0}),
])
def test_system_tags_cannot_be_touched(api, wx, path, body):
    wx.user_event(SERVICE, "o1", "follow")
    assert errcode(api.post(path, body)) == 45058


def test_a_fan_carries_at_most_twenty_tags(api, wx):
    wx.user_event(SERVICE, "o1", "follow")
    ids = [create_tag(api, f"t{n}")["tag"]["id"] for n in range(21)]
    assert [tagging(api, ["o1"], i) for i in ids] == [0] * 20 + [45059]
    assert len(wx.fan_tags(SERVICE, "o1")) == 20


def test_tagging_takes_one_to_fifty_known_openids(api, wx):
    tag = create_tag(api, "vip")["tag"]["id"]
    openids = [f"o{n}" for n in range(51)]
    for openid in openids:
        wx.user_event(SERVICE, openid, "follow")
    assert tagging(api, openids, tag) == 40032
    assert tagging(api, [], tag) == 40032
    assert tagging(api, ["o_stranger"], tag) == 40003
    assert tagging(api, openids[:50], tag) == 0
    assert tagging(api, ["o1"], 999) == 45159
    tags = api.get("/cgi-bin/tags/get")["tags"]
    assert {"id": tag, "name": "vip", "count": 50} in tags


def test_tags_keep_the_order_they_were_applied_in(api, wx):
    wx.user_event(SERVICE, "o1", "follow")
    a, b, c = (create_tag(api, n)["tag"]["id"] for n in ("a", "b", "c"))
    for tag in (c, a, b, c):
        assert tagging(api, ["o1"], tag) == 0
    assert api.post("/cgi-bin/tags/getidlist", {"openid": "o1"})["tagid_list"] == [c, a, b]
    assert api.get("/cgi-bin/user/info", openid="o1")["tagid_list"] == [c, a, b]
    assert tagging(api, ["o1"], a, untag=True) == 0
    assert wx.fan_tags(SERVICE, "o1") == [c, b]
    assert api.post("/cgi-bin/user/tag/get", {"tagid": b})["data"]["openid"] == ["o1"]
    assert errcode(api.post("/cgi-bin/tags/delete", {"tag": {"id": c}})) == 0
    assert wx.fan_tags(SERVICE, "o1") == [b]


# --- §4.5, §4.6 menus ----------------------------------------------------------------------------

def click(name: str = "积分", key: str = "POINTS") -> dict[str, Any]:
    return {"type": "click", "name": name, "key": key}


def view(name: str = "商城", url: str = "https://h5.example.com/mall") -> dict[str, Any]:
    return {"type": "view", "name": name, "url": url}


def parent(*subs: dict[str, Any], name: str = "会员") -> dict[str, Any]:
    return {"name": name, "sub_button": list(subs)}


@pytest.mark.parametrize("buttons, expected", [
    ([], 40016),
    ([click()] * 4, 40016),
    ([click(name="一二三四五六")], 40018),
    ([parent(click(), name="")], 40018),
    ([parent(click(name="好" * 21))], 40025),
    ([parent(*[click()] * 6)], 40023),
    ([click(key="k" * 129)], 40019),
    ([parent(click(key="k" * 129))], 40026),
    ([click(key="")], 40019),
    ([view(url="https://e.com/" + "x" * 1011)], 40020),
    ([parent(view(url="https://e.com/" + "x" * 1011))], 40027),
    ([view(url="")], 40020),
    ([{"type": "teleport", "name": "x"}], 40017),
    ([parent({"type": "teleport", "name": "x"})], 40024),
    ([{**parent(click()), "type": "click", "key": "K"}], 40017),
    ([parent({**parent(click()), "name": "x"})], 40022),
    ([{"type": "media_id", "name": "图"}], 40017),
    ([click(name="一二三四五"), parent(click(name="好" * 20), view()), view()], 0),
])
def test_menu_limits(api, buttons, expected):
    assert errcode(api.post("/cgi-bin/menu/create", {"button": buttons})) == expected


def test_menu_get_and_delete_remove_conditional_menus_too(api, wx):
    assert errcode(api.get("/cgi-bin/menu/get")) == 46003
    tag = create_tag(api, "staff")["tag"]["id"]
    api.post("/cgi-bin/menu/create", {"button": [click()]})
    menuid = api.post("/cgi-bin/menu/addconditional",
                      {"button": [view()], "matchrule": {"tag_id": str(tag)}})["menuid"]
    menus = api.get("/cgi-bin/menu/get")
    assert menus["menu"]["button"] == [click()]
    assert [(m["menuid"], m["matchrule"]) for m in menus["conditionalmenu"]] == \
        [(int(menuid), {"tag_id": str(tag)})]
    assert errcode(api.get("/cgi-bin/menu/delete")) == 0
    assert errcode(api.get("/cgi-bin/menu/get")) == 46003
    assert wx.menus(SERVICE) == {"menu": None, "conditional": []}


@pytest.mark.parametrize("matchrule, expected", [
    ({"tag_id": "100"}, 0),
    ({"client_platform_type": "2"}, 0),
    ({"tag_id": "100", "sex": "1"}, 65320),
    ({"country": "中国"}, 65320),
    ({"tag_id": "", "sex": ""}, 65304),
    ({"tag_id": "555"}, 45159),
])
def test_conditional_matchrules(api, matchrule, expected):
    create_tag(api, "staff")
    body = {"button": [view()], "matchrule": matchrule}
    assert errcode(api.post("/cgi-bin/menu/addconditional", body)) == 65303
    api.post("/cgi-bin/menu/create", {"button": [click()]})
    assert errcode(api.post("/cgi-bin/menu/addconditional", body)) == expected


def test_conditional_menus_link_to_at_most_three_domains(api):
    create_tag(api, "staff")
    api.post("/cgi-bin/menu/create", {"button": [click()]})
    rule = {"tag_id": "100"}
    for host in ("a.com", "b.com", "c.com"):
        body = {"button": [view(url=f"https://{host}/")], "matchrule": rule}
        assert errcode(api.post("/cgi-bin/menu/addconditional", body)) == 0
    body = {"button": [view(url="https://d.com/")], "matchrule": rule}
    assert errcode(api.post("/cgi-bin/menu/addconditional", body)) == 65316


def test_trymatch_follows_the_last_applied_tag(api, wx):
    for openid in ("o_staff", "o_plain"):
        wx.user_event(SERVICE, openid, "follow")
    staff, vip = (create_tag(api, n)["tag"]["id"] for n in ("staff", "vip"))
    api.post("/cgi-bin/menu/create", {"button": [click()]})
    staff_menu = [click("工作台", "STAFF")]
    vip_menu = [click("会员", "VIP")]
    api.post("/cgi-bin/menu/addconditional",
             {"button": staff_menu, "matchrule": {"tag_id": str(staff)}})
    api.post("/cgi-bin/menu/addconditional", {"button": vip_menu, "matchrule": {"tag_id": vip}})
    tagging(api, ["o_staff"], vip)
    tagging(api, ["o_staff"], staff)

    def seen_by(openid: str) -> Any:
        return api.post("/cgi-bin/menu/trymatch", {"user_id": openid})["button"]

    assert seen_by("o_staff") == staff_menu
    assert seen_by("o_plain") == [click()]
    tagging(api, ["o_staff"], staff, untag=True)
    assert seen_by("o_staff") == vip_menu
    newer_vip_menu = [click("新会员", "VIP2")]
    api.post("/cgi-bin/menu/addconditional",
             {"button": newer_vip_menu, "matchrule": {"tag_id": vip}})
    assert seen_by("o_staff") == newer_vip_menu
    assert errcode(api.post("/cgi-bin/menu/trymatch", {"user_id": "o_stranger"})) == 65302


def test_delconditional(api):
    create_tag(api, "staff")
    api.post("/cgi-bin/menu/create", {"button": [click()]})
    menuid = api.post("/cgi-bin/menu/addconditional",
                      {"button": [view()], "matchrule": {"tag_id": "100"}})["menuid"]
    assert errcode(api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})) == 0
    assert errcode(api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})) == 65301


# --- media ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("media_type, size, filename, expected", [
    ("image", 10 * 1024 * 1024, "a.jpg", 0),
    ("image", 10 * 1024 * 1024 + 1, "a.jpg", 40009),
    ("voice", 2 * 1024 * 1024 + 1, "a.mp3", 40010),
    ("thumb", 64 * 1024 + 1, "a.jpg", 40012),
    ("image", 10, "a.exe", 40005),
    ("image", 10, "noextension", 40005),
    ("sticker", 10, "a.png", 40004),
])
def test_media_upload_limits(api, wx, media_type, size, filename, expected):
    answer = api.upload(SERVICE, media_type, b"x" * size, filename)
    assert errcode(answer) == expected
    if expected == 0:
        assert wx.media(SERVICE, answer["media_id"])["size"] == size


def test_temporary_media_lives_three_days(api, wx, clock):
    answer = api.upload(SUB, "image", b"img", "a.png")
    assert answer["type"] == "image" and answer["created_at"] == int(clock.timestamp())
    assert wx.media(SUB, answer["media_id"])["type"] == "image"
    assert wx.media(SERVICE, answer["media_id"]) is None
    clock.advance(days=3)
    assert wx.media(SUB, answer["media_id"]) is None


# --- §4.10 multi-customer-service ----------------------------------------------------------------

@pytest.mark.parametrize("kf_account, nickname, expected", [
    ("alice@hq_wx", "小爱", 0),
    ("a" * 10 + "@hq_wx", "小爱", 0),
    ("a" * 11 + "@hq_wx", "小爱", 65404),
    ("al-ice@hq_wx", "小爱", 65404),
    ("alice", "小爱", 65404),
    ("alice@hq_wx", "好" * 17, 65403),
    ("alice@hq_wx", "", 65403),
])
def test_kf_account_add(api, kf_account, nickname, expected):
    body = {"kf_account": kf_account, "nickname": nickname}
    assert errcode(api.post("/customservice/kfaccount/add", body)) == expected


def test_kf_account_duplicates_and_limit(api, wx):
    wx.set_limit("kf_accounts", 2)
    add = lambda name: errcode(api.post("/customservice/kfaccount/add",  # noqa: E731
                                        {"kf_account": f"{name}@hq", "nickname": name}))
    assert [add("a"), add("a"), add("b"), add("c")] == [0, 65406, 0, 65405]
    assert [k["kf_account"] for k in api.get("/cgi-bin/customservice/getkflist")["kf_list"]] == \
        ["a@hq", "b@hq"]


def test_kf_sessions(api, wx):
    for name in ("alice", "bob"):
        api.post("/customservice/kfaccount/add", {"kf_account": f"{name}@hq", "nickname": name})
    wx.user_event(SERVICE, "o1", "message")
    wx.kf_wait(SERVICE, "o1")
    assert api.get("/customservice/kfsession/getwaitcase")["count"] == 1
    create = lambda kf: errcode(api.post("/customservice/kfsession/create",  # noqa: E731
                                         {"kf_account": kf, "openid": "o1"}))
    assert create("alice@hq") == 61459
    wx.set_kf_online(SERVICE, "alice@hq", True)
    wx.set_kf_online(SERVICE, "bob@hq", True)
    assert create("alice@hq") == 0
    assert create("bob@hq") == 61458
    assert create("carol@hq") == 61452
    assert api.get("/customservice/kfsession/getsession", openid="o1")["kf_account"] == "alice@hq"
    assert api.get("/customservice/kfsession/getwaitcase")["count"] == 0
    online = api.get("/cgi-bin/customservice/getonlinekflist")["kf_online_list"]
    assert {k["kf_account"]: k["accepted_case"] for k in online} == {"alice@hq": 1, "bob@hq": 0}
    sessions = api.get("/customservice/kfsession/getsessionlist", kf_account="alice@hq")
    assert [s["openid"] for s in sessions["sessionlist"]] == ["o1"]
    close = {"kf_account": "bob@hq", "openid": "o1"}
    assert errcode(api.post("/customservice/kfsession/close", close)) == 61451
    close["kf_account"] = "alice@hq"
    assert errcode(api.post("/customservice/kfsession/close", close)) == 0
    assert create("bob@hq") == 0


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
    """Keys without a TTL are only the documented world state (bot/keys.py)."""
    wx.user_event(SERVICE, "o1", "message")
    api.send_text("o1")
    api.upload(SERVICE, "image", b"img", "a.png")
    api.post("/cgi-bin/qrcode/create", qr("QR_SCENE", {"scene_id": 5}))
    redis = app.extensions["redis"]
    world = re.compile(rb"^sandbox:(account|fan|followers|seq|limits|tags|menu|cmenus|qr-perm|kf)")
    forever = [k for k in redis.scan_iter() if redis.ttl(k) == -1 and not world.match(k)]
    assert forever == []
