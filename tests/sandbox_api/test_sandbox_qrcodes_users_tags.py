"""The sandbox API: QR codes (§4.2), users (§4.3) and tags (§4.4)."""
import pytest

from sandbox_support import SERVICE, errcode, qr, create_tag, tagging


# --- §4.2 QR codes -------------------------------------------------------------------------------


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
