"""The H5 foundation, as a phone's browser lives it: WeChat OAuth (snsapi_base) played by the
sandbox's authorize page, the session cookie, CSRF, the JS-SDK signature, and who may see the
mall (WECHAT-PLATFORM.md §4.11, §4.12)."""
import json
import re

import pytest

from bot.wechat_web import jsapi_signature
from binding_support import bind, load_rules
from h5_support import Browser, query_of

PHONE = "13812345678"
MALL = "/h5/hq/mall/"


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


@pytest.fixture
def member(app, wx, jobs):
    """alice follows and binds her phone: a member with the welcome points."""
    wx.follow()
    bind(wx, app, jobs, PHONE)
    jobs.run_all()
    return wx


def test_a_member_opens_the_mall_through_a_silent_oauth_and_keeps_a_http_only_session(app, member, world):
    browser = Browser(app, member.openid)
    authorize = browser.authorize_url(MALL)
    args = query_of(authorize.split("#")[0])
    assert authorize.endswith("#wechat_redirect")
    assert (args["appid"], args["scope"], args["response_type"]) == (member.account.appid, "snsapi_base", "code")
    assert args["redirect_uri"] == "http://127.0.0.1:5000/h5/hq/oauth"
    assert re.fullmatch(r"[0-9a-f]{56}", args["state"])           # ≤128 of [a-zA-Z0-9] (§4.11)
    page = browser.follow(browser.client.get(browser.approve(authorize)))
    assert page.status_code == 200 and "我的积分" in browser.text()
    cookie = browser.client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    browser.get("/h5/hq/mall/orders")                            # the session carries on
    assert len(world.calls("/sns/oauth2/access_token")) == 1


def test_wechat_hitting_the_redirect_twice_exchanges_the_code_once_and_both_hits_open_the_page(app, member, world):
    browser = Browser(app, member.openid)
    callback = browser.approve(browser.authorize_url(MALL))
    first, second = browser.client.get(callback), browser.client.get(callback)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location == MALL
    assert len(world.calls("/sns/oauth2/access_token")) == 1     # no 40163 for the second hit
    assert browser.get(MALL).status_code == 200


def test_a_forged_state_is_refused(app, member):
    browser = Browser(app, member.openid)
    callback = browser.approve(browser.authorize_url(MALL))
    state = query_of(callback)["state"]
    forged = callback.replace(state, state[:24] + "0" * 32)
    answer = browser.client.get(forged)
    assert answer.status_code == 403 and "链接无效" in answer.get_data(as_text=True)
    assert browser.client.get(MALL).status_code == 302          # no session was made


def test_a_replayed_state_with_a_new_code_is_refused(app, member):
    browser = Browser(app, member.openid)
    authorize = browser.authorize_url(MALL)
    assert browser.client.get(browser.approve(authorize)).status_code == 302
    replay = browser.approve(authorize)                          # same state, a fresh code
    answer = browser.client.get(replay)
    assert answer.status_code == 403 and "已用过" in answer.get_data(as_text=True)


def test_a_code_brought_by_a_second_browser_is_refused(app, member, phone):
    mine = Browser(app, member.openid)
    callback = mine.approve(mine.authorize_url(MALL))
    assert mine.client.get(callback).status_code == 302
    thief = Browser(app, phone("mallory").openid)
    # With the first browser's whole URL: its state is bound to the first browser.
    stolen = thief.client.get(callback)
    assert stolen.status_code == 403 and "已过期" in stolen.get_data(as_text=True)
    # With its own fresh state and the first browser's code: the code is spent elsewhere.
    own_state = query_of(thief.authorize_url(MALL).split("#")[0])["state"]
    code = query_of(callback)["code"]
    answer = thief.client.get(f"/h5/hq/oauth?code={code}&state={own_state}")
    assert answer.status_code == 403 and "另一处使用" in answer.get_data(as_text=True)
    assert thief.client.get(MALL).status_code == 302            # still nobody


def test_a_snapshot_user_is_told_to_open_the_full_service_and_gets_no_session(app, member):
    browser = Browser(app, member.openid)
    callback = browser.approve(browser.authorize_url(MALL), snapshot=True)
    answer = browser.client.get(callback)
    assert answer.status_code == 403 and "使用完整服务" in answer.get_data(as_text=True)
    assert browser.client.get(MALL).status_code == 302


def test_a_page_of_an_account_without_oauth_is_not_offered(app, make_account, member):
    make_account(slug="sub", type="subscription", verified=False, appid="wxsub0000000000001",
                 original_id="gh_sub000000001")
    answer = Browser(app, member.openid).client.get("/h5/sub/mall/")
    assert answer.status_code == 404 and "总部服务号" in answer.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused(app, member):
    browser = Browser(app, member.openid)
    browser.get(MALL)
    answer = browser.post("/h5/hq/mall/p/mug/confirm", {"token": "0" * 32}, csrf=False)
    assert answer.status_code == 400 and "页面已过期" in browser.text()


def test_the_page_carries_a_js_sdk_config_signed_for_its_own_url_with_a_shared_ticket(app, member, world):
    browser = Browser(app, member.openid)
    browser.get(MALL + "?category=home")
    config = json.loads(re.search(r'<script id="wx-config" type="application/json">(.*?)</script>',
                                  browser.text()).group(1))
    ticket = app.extensions["redis"].get(f"wx:jsapi-ticket:{member.account.appid}").decode()
    url = "http://127.0.0.1:5000/h5/hq/mall/?category=home"
    assert config["signature"] == jsapi_signature(ticket, config["nonceStr"], config["timestamp"], url)
    assert config["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData", "closeWindow"]
    browser.get("/h5/hq/mall/points")
    assert len(world.calls("/cgi-bin/ticket/getticket")) == 1   # cached in Redis, not per page
    assert '<script src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js" defer>' in browser.text()


@pytest.mark.parametrize("url, signature", [
    ("http://mp.weixin.qq.com?params=value", "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    ("http://mp.weixin.qq.com?params=value#top", "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    ("http://mp.weixin.qq.com", "f4d90daf4b3bca3078ab155816175ba34c443a7b"),
])
def test_the_js_sdk_signature_matches_the_official_vectors(url, signature):
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    assert jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, url) == signature   # §4.12 V4


def test_an_unbound_fan_is_sent_to_the_chat_and_the_bot_prompts_there_once(app, wx, jobs, world):
    wx.follow()
    jobs.run_all()
    browser = Browser(app, wx.openid)
    browser.get(MALL)
    assert "请先绑定手机号" in browser.text() and "回复“绑定”" in browser.text()
    browser.get(MALL)                                            # a reload prompts no second time
    jobs.run_all()
    told = [m["content"] for m in world.messages_to(wx.account.appid, wx.openid) if m.get("content")]
    assert sum("回复“绑定”即可开始" in t for t in told) == 1
    assert "请输入您的手机号" in wx.text("绑定")


def test_a_non_follower_from_a_shared_link_is_told_to_follow_first(app, member, phone, jobs, world):
    stranger = Browser(app, phone("carol").openid)
    stranger.get(MALL)
    assert stranger.last.status_code == 200 and "请先关注" in stranger.text()
    jobs.run_all()
    assert world.messages_to(member.account.appid, stranger.openid) == []


def test_pages_stay_light_for_a_phone(app, member):
    browser = Browser(app, member.openid)
    browser.get(MALL)
    total = len(browser.last.data)
    for asset in re.findall(r'href="(/h5/static/[^"]+)"|src="(/h5/static/[^"]+)"', browser.text()):
        total += len(browser.client.get(asset[0] or asset[1]).data)
    assert total < 150 * 1024, total
