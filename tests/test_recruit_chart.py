"""拉新 (issue #5): a store manager sends "拉新" (or taps 拉新数据) and gets an image: their store's
follows per day over the last 30 China days and its best codes. Only their store; anyone else
is told why not; a double click makes one chart; a store with nothing yet gets a chart saying so.

The story (China dates; the clock starts 2026-11-23 18:00):
  11-23  p0 follows through 王导's code W (store S1): 30 days later this is out of the window
  12-20  p1 follows through W, p2 through S1's own 地推 code, p5 through 赵导's code Z (store S2)
  12-21  p1 unfollows, p3 follows through W
  12-22  p1 comes back plainly (a re-follow credited to W)
  12-23  the manager of S1 asks: the window is 11-24 .. 12-23
"""
import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select

import workers.recruit
from bot import keys
from bot.qr import chart
from handlers.recruit import ALREADY, MAKING, NOT_MANAGER, NOT_STAFF
from menus.definition import MenuKey
from models import Staff
from tests.binding_support import SUB, bind
from tests.conftest import SAMPLE, later
from tests.test_qr_scans import make_code, make_staff, make_store

JOB = "workers.recruit.send_chart"
UPLOAD = "/cgi-bin/media/upload"


@pytest.fixture
def drawn(monkeypatch):
    """The data of every chart the job drew, and its PNG, in order."""
    seen: list[tuple[chart.ChartData, bytes]] = []
    real = workers.recruit.draw

    def spy(data):
        png = real(data)
        seen.append((data, png))
        return png
    monkeypatch.setattr(workers.recruit, "draw", spy)
    return seen


@pytest.fixture
def stores(app, db, account, clock):
    s1, s2 = make_store(db, "S1", "西湖门店"), make_store(db, "S2", "灵隐门店")
    wang, zhao = make_staff(db, s1, "13900000001", "王导"), make_staff(db, s2, "13900000003", "赵导")
    codes = {"W": make_code(app, db, account, clock, store=s1, staff=wang),
             "S": make_code(app, db, account, clock, store=s1, channel="地推"),
             "Z": make_code(app, db, account, clock, store=s2, staff=zhao)}
    return s1, s2, codes


@pytest.fixture
def month(phone, clock, stores):
    _, _, codes = stores
    p = {name: phone(name) for name in ("p0", "p1", "p2", "p3", "p5")}
    p["p0"].follow(codes["W"].scene)
    clock.advance(days=27)                                      # 2026-12-20
    p["p1"].follow(codes["W"].scene)
    p["p2"].follow(codes["S"].scene)
    p["p5"].follow(codes["Z"].scene)
    clock.advance(days=1)                                       # 12-21
    p["p1"].unfollow()
    p["p3"].follow(codes["W"].scene)
    clock.advance(days=1)                                       # 12-22
    p["p1"].follow()
    clock.advance(days=1)                                       # 12-23
    return codes


def manager_of(app, db, phone, jobs, store, number: str = "13700000001", roles: str = "manager", account=None):
    """A staff member of `store` who bound their phone in the chat."""
    make_staff(db, store, number, "张店长", roles=roles)
    person = phone("boss" + number[-2:], **({"account": account} if account else {}))
    person.follow()
    bind(person, app, jobs, number)
    jobs.run_all()
    return person


def images_to(world, person) -> list[dict]:
    return [m for m in world.messages_to(person.account.appid, person.openid) if m["msgtype"] == "image"]


def test_a_manager_gets_their_stores_chart_only(app, db, phone, jobs, world, clock, stores, month, drawn):
    s1, _, codes = stores
    boss = manager_of(app, db, phone, jobs, s1)
    later(clock, minutes=1)
    assert boss.text("拉新") == MAKING
    assert jobs.queued().count(JOB) == 1
    jobs.run_all()
    assert jobs.failed() == 0

    ((data, png),) = drawn
    assert (data.store_name, data.first, data.last) == ("西湖门店", date(2026, 11, 24), date(2026, 12, 23))
    assert len(data.days) == 30
    by_day = {d.day: (d.follows, d.refollows, d.unfollows) for d in data.days
              if d.follows or d.refollows or d.unfollows}
    assert by_day == {date(2026, 12, 20): (2, 0, 0), date(2026, 12, 21): (1, 0, 1), date(2026, 12, 22): (0, 1, 0)}
    # W: p1 and p3 followed, p1 left and came back plainly; p0's follow is older than 30 days.
    assert [(line.name, line.staff, line.channel, line.counts.net, line.counts.scans) for line in data.top] == [
        (codes["W"].scene, "王导", "", 2, 2), (codes["S"].scene, "", "地推", 1, 1)]
    assert codes["Z"].scene not in {line.name for line in data.top}        # store S2's code is not shown
    assert not data.empty

    (image,) = images_to(world, boss)
    assert image["kind"] == "custom"
    stored = world.media(SAMPLE["appid"], image["payload"]["image"]["media_id"])
    assert stored["type"] == "image" and stored["filename"] == "recruit-S1-20261223.png"
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.width == chart.WIDTH and len(png) == stored["size"]


def test_the_menu_button_asks_for_the_same_chart_and_a_double_click_makes_one(app, db, phone, jobs, world,
                                                                               clock, stores, month, drawn):
    s1, _, _ = stores
    boss = manager_of(app, db, phone, jobs, s1)
    later(clock, minutes=1)
    assert boss.click(MenuKey.RECRUIT_STATS) == MAKING
    later(clock, seconds=2)
    assert boss.click(MenuKey.RECRUIT_STATS) == ALREADY
    assert boss.text("拉新") == ALREADY
    jobs.run_all()
    assert len(drawn) == 1 and len(images_to(world, boss)) == 1
    later(clock, seconds=61)                                    # a minute later: a fresh chart
    assert boss.text("拉新") == MAKING
    jobs.run_all()
    assert len(drawn) == 2 and len(images_to(world, boss)) == 2


def test_fans_members_and_other_staff_are_told_why_not(app, db, phone, jobs, clock, stores):
    s1, _, _ = stores
    fan = phone("fan")
    fan.follow()
    assert fan.text("拉新") == NOT_STAFF
    member = phone("member")
    member.follow()
    bind(member, app, jobs, "13800138000")
    later(clock, minutes=1)
    member.text("跳过")
    assert member.click(MenuKey.RECRUIT_STATS) == NOT_STAFF
    guide = manager_of(app, db, phone, jobs, s1, number="13700000002", roles="guide,agent")
    later(clock, minutes=1)
    assert guide.text("拉新") == NOT_MANAGER
    assert JOB not in jobs.queued()


def test_a_store_with_nothing_yet_gets_a_chart_that_says_so(app, db, phone, jobs, world, clock, month, drawn):
    """Other stores have a busy month; a new store has nothing: a chart that says so, no crash."""
    quiet = make_store(db, "S3", "断桥门店")
    boss = manager_of(app, db, phone, jobs, quiet)
    later(clock, minutes=1)
    assert boss.text("拉新") == MAKING
    jobs.run_all()
    assert jobs.failed() == 0
    ((data, png),) = drawn
    assert data.empty and data.top == [] and data.store_name == "断桥门店"
    assert len(images_to(world, boss)) == 1
    assert Image.open(io.BytesIO(png)).height < 1000                # the short "nothing yet" chart


def test_a_refused_upload_is_told_and_the_manager_can_ask_again(app, db, phone, jobs, world, clock, stores, month):
    """§4.15: 40164 (IP not whitelisted) will not pass by retrying: the manager is told, and the
    double-click claim is lifted so the next 拉新 starts at once."""
    s1, _, _ = stores
    boss = manager_of(app, db, phone, jobs, s1)
    later(clock, minutes=1)
    world.fail_next(UPLOAD, 40164, times=1, appid=SAMPLE["appid"])
    assert boss.text("拉新") == MAKING
    jobs.run_all()
    told = [m["content"] for m in world.messages_to(SAMPLE["appid"], boss.openid) if m["msgtype"] == "text"]
    assert told[-1] == "抱歉，拉新图表没有生成成功：服务器的 IP 未加入公众号白名单，请联系管理员。"
    boss_id = db.scalar(select(Staff.id).where(Staff.phone == "13700000001"))
    assert app.extensions["redis"].get(keys.recruit_lock("hq", boss_id)) is None
    later(clock, seconds=5)
    assert boss.text("拉新") == MAKING


def test_an_account_that_cannot_send_images_answers_in_text(app, db, make_account, phone, jobs, clock, stores,
                                                            month):
    """§5.1: an unverified subscription account cannot upload media: the figures come as text."""
    s1, _, codes = stores
    sub = make_account(**{**SUB, "type": "subscription", "verified": False})
    boss = manager_of(app, db, phone, jobs, s1, account=sub)
    later(clock, minutes=1)
    reply = boss.text("拉新")
    assert reply.startswith("西湖门店 近 30 天（11-24 至 12-23）拉新：新关注 3，回流 1，取关 1，净增 3。")
    assert f"1. 王导（{codes['W'].scene}） 扫码 2，净增 2" in reply and codes["Z"].scene not in reply
    assert JOB not in jobs.queued()
