"""The sandbox API: menus (§4.5, §4.6), media and multi-customer-service (§4.10)."""
from typing import Any

import pytest

from sandbox_support import SERVICE, SUB, errcode, create_tag, tagging


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
