"""Where fans find the mall: the 积分商城 VIEW button of a verified service account's menus,
and "商城" in the chat answering with a one-article news card (WECHAT-PLATFORM.md §4.5, §4.11)."""
from menus.definition import DEFAULT, MenuKey, with_mall
from menus.validate import problems
from models.tag import FAN_ROLE, MEMBER_ROLE
from tests.linking_support import article

MALL_URL = "http://127.0.0.1:5000/h5/hq/mall/"


def views(buttons):
    return [leaf for b in buttons for leaf in b.get("sub_button", [b]) if leaf.get("type") == "view"]


def test_fans_and_members_get_the_mall_button_within_wechats_limits():
    menus = with_mall(DEFAULT, MALL_URL)
    for role in (FAN_ROLE, MEMBER_ROLE):
        assert views(menus[role]) == [{"type": "view", "name": "积分商城", "url": MALL_URL}]
        assert problems(menus[role], role) == []
    assert views(DEFAULT[FAN_ROLE]) == []                          # the data itself is unchanged
    assert any(leaf.get("key") == MenuKey.HELP for b in menus[FAN_ROLE] for leaf in b.get("sub_button", [b]))


def test_the_pushed_menus_carry_the_mall_button_on_a_verified_service_account(app, account, world, jobs):
    from workers.menus import push_menu
    with app.app_context():
        push_menu(account.id)
    pushed = world.menus(account.appid)
    assert views(pushed["menu"]["button"])[0]["url"] == MALL_URL


def test_商城_answers_with_a_one_article_card_linking_to_the_mall(wx):
    reply = wx.send("text", {"Content": "商城"}, user_event="message")
    assert reply.type == "news", reply.body
    assert reply.body.count(b"<item>") == 1
    assert f"<Url><![CDATA[{MALL_URL}]]></Url>".encode() in reply.body or MALL_URL.encode() in reply.body
    assert "积分商城".encode() in reply.body


def test_商城_on_a_subscription_account_leads_to_the_service_account_with_the_link_card(make_account, phone):
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wxsub0000000000001",
                       original_id="gh_sub000000001", token="subtoken")
    reply = phone("bob", account=sub).send("text", {"Content": "商城"})
    assert reply.type == "news"                  # the link card: the service account's code, for bob
    assert "积分商城在「" in article(reply)["Description"]
