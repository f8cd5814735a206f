"""Subscription fans led to the service account as the same person (WECHAT-PLATFORM.md §5.2,
§5.3): transcripts across a subsidiary's unverified 订阅号 and HQ's 服务号, through the webhook."""
import pytest
from concurrency_support import at_once
from sqlalchemy import select

from bot.linking.tokens import TOKEN_TTL
from models import Award, Company, Fan, FanLink, FanTag, Member, Store
from tests.binding_support import bind, count, fan_of, ledger_points, load_rules, member_by_phone
from tests.conftest import later
from tests.linking_support import SUB_ACCOUNT, article, card_token, erin_on_both, token_row

PHONE = "13812345678"
LINKED = "已关联您在「华东旅行」的会员身份：积分 {points}，会员等级与权益通用。"
REUSED = "这个二维码已被使用过。请回到「华东旅行」回复“服务号”获取新的二维码。"
EXPIRED = "这个二维码已过期。请回到「华东旅行」回复“服务号”获取新的二维码。"
OTHER = "这个二维码不是本公众号的。请回到「华东旅行」回复“服务号”获取新的二维码。"


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


@pytest.fixture
def east(make_account):
    return make_account(**SUB_ACCOUNT)


def bound_on_east(app, db, jobs, phone, east, name="alice", number=PHONE):
    """A fan of the subscription account, a member by phone, with a tag and a first-touch store."""
    person = phone(name, account=east)
    person.follow()
    reply = bind(person, app, jobs, number)
    assert "回复“服务号”关注「HQ」，积分商城和人工客服都在那里，积分通用。" in reply
    assert person.text("跳过") == "好的，已跳过。"
    fan = fan_of(db, person)
    company = db.scalar(select(Company)) or Company(code="east", name="华东公司")
    db.add(company)
    db.flush()
    store = Store(code=f"s-{name}", name="西湖门店", company_id=company.id)
    db.add(store)
    db.flush()
    fan.store_id, fan.attributed_at = store.id, fan.created_at
    db.add(FanTag(fan_id=fan.id, name="自由行", source="operator"))
    db.commit()
    return person, store.id


def test_a_subscription_member_asks_for_the_mall_scans_and_is_one_member_on_the_service_account(
        app, db, jobs, phone, world, account, east):
    """Must show: binds on the 订阅号, 商城 → the card, the code is made by a job (qrcode/create
    on the 服务号, scene "b:" + token), scanning it follows the 服务号 as the same member: points,
    level, tags and the store carried; 我的 there shows the member (the mall's OAuth sees them)."""
    alice, store_id = bound_on_east(app, db, jobs, phone, east)
    member = member_by_phone(db, PHONE)
    before = member.points
    card = alice.send("text", {"Content": "商城"})
    item = article(card)
    assert item["Title"] == "关注「HQ」，会员权益通用"
    assert item["Description"] == ("长按识别图中二维码关注「HQ」。积分商城在「HQ」中。"
                                   "二维码 1 小时内有效，仅限本人使用。")
    token = card_token(card)
    assert token_row(db, token).ticket is None          # no WeChat call inside the push
    jobs.run_all()
    assert jobs.failed() == 0
    row = token_row(db, token)
    code = world.qrcode(account.appid, row.ticket)
    assert code["action_name"] == "QR_STR_SCENE" and code["scene_str"] == f"b:{token}"
    assert code["expire_seconds"] == int(TOKEN_TTL.total_seconds())
    assert world.calls("/cgi-bin/qrcode/create", appid=east.appid) == []
    picture = app.test_client().get(f"/link/{token}/qr.png")
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    assert picture.data[:8] == b"\x89PNG\r\n\x1a\n"
    page = app.test_client().get(f"/link/{token}")
    assert page.status_code == 200 and f"{token}/qr.png" in page.get_data(as_text=True)

    alice_hq = phone("alice-hq", account=account)
    answer = alice_hq.follow(scene=f"b:{token}")
    follow_points = 0                                # the follow rule pays a member once, on east
    assert answer == f"欢迎关注总部服务号！\n\n{LINKED.format(points=before + follow_points)}"
    fan = fan_of(db, alice_hq)
    assert fan.member_id == member.id
    assert (fan.store_id, fan.role_tag) == (store_id, "会员")
    assert db.scalars(select(FanTag.name).where(FanTag.fan_id == fan.id)).all() == ["自由行"]
    member = member_by_phone(db, PHONE)
    assert member.points == before + follow_points == ledger_points(db, member)
    assert member.level == "bronze"
    assert count(db, FanLink) == 1
    assert alice_hq.text("我的").startswith("手机：138****5678\n等级：铜牌会员")
    # Asked again on the 订阅号: linked already, no new card.
    assert alice.text("服务号") == ("您已关联「HQ」，积分、等级与本号通用，积分商城、人工客服都在那里。"
                                   "请在「HQ」中使用。")
    jobs.run_all()
    assert jobs.failed() == 0


def test_the_same_scan_push_retried_links_once(app, db, jobs, phone, account, east):
    """§2: WeChat delivers the follow again; the same reply, one link, one follow award."""
    alice, _ = bound_on_east(app, db, jobs, phone, east)
    token = card_token(alice.send("text", {"Content": "服务号"}))
    jobs.run_all()
    alice_hq = phone("alice-hq", account=account)
    xml = alice_hq.xml({"MsgType": "event", "Event": "subscribe", "EventKey": f"qrscene_b:{token}",
                        "Ticket": "sandbox"})
    replies = [alice_hq.deliver(xml, "follow").content for _ in range(3)]
    assert replies[0] == replies[1] == replies[2]
    assert LINKED.format(points=110) in replies[0]
    assert count(db, FanLink) == 1
    assert count(db, Award, Award.rule_code == "follow") == 2     # one per fan, each once
    # Scanned again later (a SCAN push, not a retry): told they are linked, nothing changes.
    later_reply = alice_hq.scan(f"b:{token}")
    assert later_reply == LINKED.format(points=110)
    assert count(db, FanLink) == 1


def test_a_used_an_expired_and_another_accounts_token_are_refused(app, db, jobs, phone, clock, account,
                                                                   make_account, east):
    """Someone else scanning a used code, anyone scanning an expired one, a code scanned on
    another service account: refused, saying how to get a new one; nothing is linked."""
    alice, _ = bound_on_east(app, db, jobs, phone, east)
    token = card_token(alice.send("text", {"Content": "服务号"}))
    jobs.run_all()
    phone("alice-hq", account=account).follow(scene=f"b:{token}")
    bob_hq = phone("bob-hq", account=account)
    assert bob_hq.follow(scene=f"b:{token}") == f"欢迎关注总部服务号！\n\n{REUSED}"
    assert fan_of(db, bob_hq).member_id is None

    carol, _ = bound_on_east(app, db, jobs, phone, east, name="carol", number="13900001111")
    stale = card_token(carol.send("text", {"Content": "服务号"}))
    later(clock, seconds=int(TOKEN_TTL.total_seconds()) + 1)
    carol_hq = phone("carol-hq", account=account)
    carol_hq.follow()
    assert carol_hq.scan(f"b:{stale}") == EXPIRED
    assert fan_of(db, carol_hq).member_id is None
    assert app.test_client().get(f"/link/{stale}").status_code == 410

    fresh = card_token(carol.send("text", {"Content": "服务号"}))
    assert fresh != stale
    db.rollback()
    other = make_account(slug="hq2", appid="wx0ther00000000003", token="othertoken", original_id="gh_0ther0000003",
                         name="另一个服务号")
    dave = phone("carol-other", account=other)
    assert dave.follow(scene=f"b:{fresh}").endswith(OTHER)
    assert count(db, FanLink) == 1
    assert carol_hq.scan(f"b:{fresh}") == LINKED.format(points=110)


def test_one_open_platform_links_without_a_scan(app, db, jobs, phone, world, account, make_account):
    """§5.2: a verified 订阅号 and the 服务号 share an open platform; user/info on the follow names
    the unionid, and the job makes the two fans one member, telling the 服务号 fan."""
    erin_hq = erin_on_both(app, jobs, phone, world, account, make_account, PHONE)
    erin_hq.follow()
    assert fan_of(db, erin_hq).member_id is None      # not yet: the job asks WeChat after the reply
    jobs.run_all()
    assert jobs.failed() == 0
    member = member_by_phone(db, PHONE)
    hq_fan = fan_of(db, erin_hq)
    assert (hq_fan.member_id, hq_fan.unionid) == (member.id, "union-erin")
    db.rollback()
    assert db.scalar(select(FanLink.method)) == "unionid"
    told = [m["content"] for m in world.messages_to(account.appid, erin_hq.openid)]
    assert told == ["已识别您在「华东旅行」的会员身份（同一微信开放平台），积分 110，会员等级与权益通用。"]
    assert world.calls("/cgi-bin/qrcode/create") == []


def test_one_phone_bound_on_both_accounts_is_one_member_and_is_told_so(app, db, jobs, phone, account, east):
    """Today's rule: the phone is the member; binding it on the 服务号 too says so and counts as linked."""
    bound_on_east(app, db, jobs, phone, east)
    frank = phone("alice-hq", account=account)
    frank.follow()
    assert bind(frank, app, jobs, PHONE) == (
        "绑定成功！您在「华东旅行」已是会员（同一手机号），这里与那里是同一会员，积分和等级通用，"
        "当前积分 110。回复“积分”查看积分，回复“我的”查看会员信息。")
    db.rollback()
    assert db.scalar(select(FanLink.method)) == "phone"
    assert len(set(db.scalars(select(Fan.member_id).where(Fan.member_id.is_not(None))))) == 1
    assert count(db, Member) == 1


def test_two_fans_scanning_one_code_at_once_exactly_one_links(app, db, jobs, phone, account, east):
    """Two service-account fans scanning the same code at the same moment (on PostgreSQL, two
    transactions at once): the guarded update gives it to one; the other is told it is used."""
    alice, _ = bound_on_east(app, db, jobs, phone, east)
    token = card_token(alice.send("text", {"Content": "服务号"}))
    jobs.run_all()
    first, second = phone("alice-hq", account=account), phone("someone-hq", account=account)
    replies = at_once([lambda: first.follow(scene=f"b:{token}"), lambda: second.follow(scene=f"b:{token}")])
    linked = [r for r in replies if LINKED.format(points=110) in r]
    refused = [r for r in replies if REUSED in r]
    assert (len(linked), len(refused)) == (1, 1), replies
    assert count(db, FanLink) == 1
    assert count(db, Fan, Fan.member_id.is_not(None)) == 2


def test_what_is_left_to_do_after_a_scan_names_the_service_accounts_menu_buttons(app, db, jobs, phone, account,
                                                                                  east):
    """On the 服务号 (it has menus): a fan of the 订阅号 who is no member yet is told to bind, a member
    bound with another phone to ask a person; each names the button of the menu definition."""
    gus = phone("gus", account=east)
    gus.follow()
    plain = card_token(gus.send("text", {"Content": "服务号"}))
    jobs.run_all()
    gus_hq = phone("gus-hq", account=account)
    assert gus_hq.follow(scene=f"b:{plain}").endswith(
        "已关联「华东旅行」。回复“绑定”或点击菜单“成为会员”，验证手机号即可成为会员，两个公众号的积分和等级是同一份。")

    alice, _ = bound_on_east(app, db, jobs, phone, east)
    token = card_token(alice.send("text", {"Content": "服务号"}))
    jobs.run_all()
    hank = phone("hank-hq", account=account)
    hank.follow()
    bind(hank, app, jobs, "13700001111")
    hank.text("跳过")
    assert hank.scan(f"b:{token}") == ("您在这里已用另一手机号绑定会员，无法自动合并。"
                                       "如需合并积分，请回复“人工”或点击菜单“联系客服”，由客服为您处理。")
    assert fan_of(db, hank).member_id != member_by_phone(db, PHONE).id
