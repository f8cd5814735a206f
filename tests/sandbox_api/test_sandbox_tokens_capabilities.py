"""The sandbox API: access tokens (§4.1) and the capability matrix (§5.1)."""
import pytest

from sandbox_support import ACCOUNTS, AUTHORIZE, SERVICE, SUB, SUB_RAW, SERVICE_RAW, Api, errcode, secret_of


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
