"""Scans, first-touch attribution, per-code welcomes and tags (issue #5, Build 3), as transcripts
through the webhook: a fan scans store A's code, leaves, comes back through store B's, scans A's
again; then WeChat's retries, plain re-follows, other accounts' codes, scenes that are not ours,
and conversions. The clock moves between pushes, as on a phone (one second apart is one push, §2)."""
import csv
import io

import pytest
from sqlalchemy import func, select

from bot.qr.codes import new_code, obtain_ticket
from handlers.subscribe import BIND_OFFER, WELCOME_BACK
from models import Company, Fan, FanTag, Member, QrCode, QrEvent, Staff, Store
from tests.binding_support import SUB, bind, load_rules
from tests.conftest import SAMPLE, WELCOME, later
from tests.wechat_client_support import client_for

A_WELCOME = "欢迎来到西湖门店！到店出示本消息领取小礼品。"
B_WELCOME = "欢迎来到灵隐门店！"


# --- set-up shared by the qr test files ------------------------------------------------------------

def make_store(db, code: str, name: str) -> Store:
    company = db.scalar(select(Company).where(Company.code == "HZ"))
    if company is None:
        company = Company(code="HZ", name="杭州公司")
        db.add(company)
        db.flush()
    store = Store(code=code, name=name, company_id=company.id)
    db.add(store)
    db.commit()
    return store


def make_staff(db, store: Store, phone: str, name: str, roles: str = "guide") -> Staff:
    staff = Staff(phone=phone, name=name, store_id=store.id, roles=roles, active=True)
    db.add(staff)
    db.commit()
    return staff


def make_code(app, db, account, clock, *, store: Store | None = None, staff: Staff | None = None,
              channel: str | None = None, tags=(), welcome: str | None = None) -> QrCode:
    """A permanent code, created at the sandbox WeChat as `qr create` does."""
    code = new_code(db, account, permanent=True, now=clock.now(), store_id=store.id if store else None,
                    staff_id=staff.id if staff else None, channel=channel, tags=list(tags), welcome=welcome,
                    label_parts=(store.name if store else None, staff.name if staff else None, channel))
    obtain_ticket(client_for(app, account), code, clock.now())
    db.commit()
    return code


def fan_row(db, person) -> Fan:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))


def qr_events(db, person) -> list[tuple]:
    """(kind, code id, scanned, scene) of the person's QR events, in order."""
    fan = fan_row(db, person)
    return [tuple(row) for row in db.execute(select(QrEvent.kind, QrEvent.code_id, QrEvent.scanned, QrEvent.scene)
                                             .where(QrEvent.fan_id == fan.id).order_by(QrEvent.id))]


def tags_of(db, person) -> dict[str, str]:
    fan = fan_row(db, person)
    return dict(db.execute(select(FanTag.name, FanTag.source).where(FanTag.fan_id == fan.id)).all())


def stats_rows(app, *args: str) -> dict[str, dict[str, str]]:
    """`qr stats --format csv` as {first column: row}."""
    result = app.test_cli_runner().invoke(args=["qr", "stats", "--account", "hq", "--format", "csv", *args])
    assert result.exit_code == 0, result.output
    return {row[next(iter(row))]: row for row in csv.DictReader(io.StringIO(result.output))}


def counts(row: dict[str, str]) -> tuple[int, ...]:
    """(scans, unique, follows, refollows, unfollows, net, members) of one stats row."""
    return tuple(int(row[c]) for c in ("scans", "unique_scanners", "new_follows", "refollows", "unfollows",
                                        "net_follows", "members"))


@pytest.fixture
def two_stores(app, db, account, clock):
    """Store A (西湖门店, S1) with 王导's code, store B (灵隐门店, S2) with the store's own code."""
    a, b = make_store(db, "S1", "西湖门店"), make_store(db, "S2", "灵隐门店")
    wang = make_staff(db, a, "13900000001", "王导")
    code_a = make_code(app, db, account, clock, store=a, staff=wang, tags=["西湖", "地推"], welcome=A_WELCOME)
    code_b = make_code(app, db, account, clock, store=b, channel="门店", tags=["灵隐"], welcome=B_WELCOME)
    return a, b, wang, code_a, code_b


# --- the must-show transcript --------------------------------------------------------------------------

def test_first_touch_stays_with_store_a_and_every_count_is_exact(app, db, wx, clock, jobs, world, two_stores):
    """Scan A's code (not following) → unfollow → re-follow through B's code → scan A's again."""
    a, b, wang, code_a, code_b = two_stores

    assert wx.follow(code_a.scene) == f"{A_WELCOME}\n\n{BIND_OFFER}"
    later(clock, hours=1)
    assert wx.unfollow() is None
    later(clock, days=2)
    assert wx.follow(code_b.scene) == f"{WELCOME_BACK}{B_WELCOME}\n\n{BIND_OFFER}"
    later(clock, hours=3)
    assert wx.scan(code_a.scene) == A_WELCOME

    fan = fan_row(db, wx)
    assert (fan.source_code_id, fan.store_id, fan.staff_id) == (code_a.id, a.id, wang.id)
    assert fan.attributed_at is not None and fan.following and fan.follow_count == 2
    assert qr_events(db, wx) == [("follow", code_a.id, True, code_a.scene), ("unfollow", code_a.id, False, None),
                                 ("refollow", code_b.id, True, code_b.scene), ("scan", code_a.id, True, code_a.scene)]
    assert tags_of(db, wx) == {"西湖": f"qr:{code_a.id}", "地推": f"qr:{code_a.id}", "灵隐": f"qr:{code_b.id}"}

    rows = stats_rows(app)
    assert set(rows) == {code_a.scene, code_b.scene, "total"}
    #                                 scans unique follows refollows unfollows net members
    assert counts(rows[code_a.scene]) == (2, 1, 1, 0, 1, 0, 0)
    assert counts(rows[code_b.scene]) == (1, 1, 0, 1, 0, 1, 0)
    assert counts(rows["total"]) == (3, 1, 1, 1, 1, 1, 0)

    jobs.run_all()
    assert jobs.failed() == 0
    names = {t["id"]: t["name"] for t in world.tags(SAMPLE["appid"])}
    on_wechat = [names[i] for i in world.fan_tags(SAMPLE["appid"], wx.openid)]
    assert {"西湖", "地推", "灵隐"} <= set(on_wechat) and on_wechat[-1] == "粉丝"     # role tag last (§4.6)


def test_a_follow_delivered_three_times_is_one_event(app, db, wx, clock, two_stores):
    """§2: WeChat re-delivers an unanswered push (same FromUserName + CreateTime + EventKey):
    one event, one attribution, one set of tags, the same reply each time."""
    _, _, _, code_a, _ = two_stores
    xml = wx.xml({"MsgType": "event", "Event": "subscribe", "EventKey": f"qrscene_{code_a.scene}",
                  "Ticket": code_a.ticket})
    replies = [wx.deliver(xml).content for _ in range(3)]
    assert replies == [f"{A_WELCOME}\n\n{BIND_OFFER}"] * 3
    assert qr_events(db, wx) == [("follow", code_a.id, True, code_a.scene)]
    assert fan_row(db, wx).follow_count == 1
    assert db.scalar(select(func.count()).select_from(FanTag)) == 2


def test_a_plain_refollow_credits_the_attributed_code(app, db, wx, clock, two_stores):
    """No code on the way back: the fan's own code is credited, so its net follows add up."""
    _, _, _, code_a, _ = two_stores
    wx.follow(code_a.scene)
    later(clock, minutes=10)
    wx.unfollow()
    later(clock, days=1)
    assert wx.follow() == WELCOME_BACK + WELCOME
    assert qr_events(db, wx) == [("follow", code_a.id, True, code_a.scene), ("unfollow", code_a.id, False, None),
                                 ("refollow", code_a.id, False, None)]
    assert counts(stats_rows(app)[code_a.scene]) == (1, 1, 1, 1, 1, 1, 0)


def test_a_follower_who_scans_is_not_attributed_by_the_scan(app, db, wx, clock, two_stores):
    """Following already (plainly): a scan is counted for the code, tags and welcomes, but the
    fan was not brought by it, so no attribution; a later follow through a code still is."""
    a, _, _, code_a, code_b = two_stores
    assert wx.follow() == WELCOME
    later(clock, minutes=5)
    assert wx.scan(code_b.scene) == B_WELCOME
    fan = fan_row(db, wx)
    assert (fan.source_code_id, fan.store_id, fan.attributed_at) == (None, None, None)
    assert tags_of(db, wx) == {"灵隐": f"qr:{code_b.id}"}
    later(clock, minutes=5)
    wx.unfollow()
    later(clock, minutes=5)
    assert wx.follow(code_a.scene) == f"{WELCOME_BACK}{A_WELCOME}\n\n{BIND_OFFER}"
    assert (fan_row(db, wx).source_code_id, fan_row(db, wx).store_id) == (code_a.id, a.id)
    assert [e[:2] for e in qr_events(db, wx)] == [("follow", None), ("scan", code_b.id), ("unfollow", None),
                                                  ("refollow", code_a.id)]


def test_codes_of_another_account_are_not_ours_here(app, db, make_account, wx, clock, two_stores):
    """Scene ids are unique across accounts, but a code answers only on its own account: on hq
    the sub account's code is a scene like any other (no credit, no tags, no attribution)."""
    sub = make_account(**SUB)
    foreign = make_code(app, db, sub, clock, channel="分店", tags=["分店码"], welcome="欢迎关注分店！")
    assert wx.follow(foreign.scene) == WELCOME
    later(clock, minutes=1)
    assert wx.scan(foreign.scene) is None               # not our code here: no reply of its own
    assert qr_events(db, wx) == [("follow", None, True, foreign.scene), ("scan", None, True, foreign.scene)]
    fan = fan_row(db, wx)
    assert (fan.source_code_id, fan.store_id, fan.first_scene) == (None, None, foreign.scene)
    assert tags_of(db, wx) == {}


@pytest.mark.parametrize("scene", ["poster-7", "qr999999", "qr99999999999999999", "qr0", "QR12", " "])
def test_scenes_that_are_not_ours_are_kept_raw_and_credit_no_code(app, db, wx, clock, two_stores, scene):
    """Another system's codes, unknown or absurd ids: recorded with the raw scene, no code."""
    assert wx.follow(scene) == WELCOME
    later(clock, minutes=1)
    wx.scan(scene)
    raw = scene.strip() or None
    assert qr_events(db, wx) == [("follow", None, raw is not None, raw), ("scan", None, True, raw)]
    assert fan_row(db, wx).source_code_id is None
    assert db.scalar(select(func.count()).select_from(FanTag)) == 0


def test_a_conversion_counts_once_and_sets_the_home_store(app, db, wx, clock, jobs, two_stores):
    """Binding makes a "member" event for the fan's code, once per fan even after 解绑 and a
    second binding; the new member's home store is the fan's first-touch store."""
    a, _, _, code_a, code_b = two_stores
    load_rules(app)
    wx.follow(code_a.scene)
    later(clock, minutes=1)
    bind(wx, app, jobs, "13800138000")
    later(clock, minutes=1)
    wx.text("跳过")
    member = db.scalar(select(Member).where(Member.phone == "13800138000"))
    assert member.home_store_id == a.id
    later(clock, minutes=1)
    wx.text("解绑")
    assert wx.text("确认").startswith("已解除绑定")
    later(clock, minutes=2)
    bind(wx, app, jobs, "13800138000")
    later(clock, minutes=1)
    assert wx.scan(code_b.scene) == B_WELCOME
    assert [e[:2] for e in qr_events(db, wx)] == [("follow", code_a.id), ("member", code_a.id), ("scan", code_b.id)]
    assert counts(stats_rows(app)[code_a.scene]) == (1, 1, 1, 0, 0, 1, 1)


def test_a_member_who_returns_is_welcomed_back_without_the_offer(app, db, wx, clock, jobs, two_stores):
    _, _, _, code_a, code_b = two_stores
    wx.follow(code_a.scene)
    later(clock, minutes=1)
    bind(wx, app, jobs, "13800138000")
    later(clock, minutes=1)
    wx.unfollow()
    later(clock, days=3)
    assert wx.follow(code_b.scene) == WELCOME_BACK + B_WELCOME
    assert fan_row(db, wx).source_code_id == code_a.id


def test_every_follow_asks_for_the_role_tag_once(app, db, wx, clock, jobs, two_stores):
    """A follow without tags to give still has WeChat show the fan's role tag (粉丝): exactly one
    sync job per follow, whether or not the code had tags to give (§4.6)."""
    _, _, _, code_a, _ = two_stores
    wx.follow()
    assert jobs.queued().count("workers.tags.sync_fan_tags") == 1
    jobs.run_all()
    later(clock, minutes=1)
    wx.unfollow()
    later(clock, minutes=1)
    wx.follow(code_a.scene)
    assert jobs.queued().count("workers.tags.sync_fan_tags") == 1
    later(clock, minutes=1)
    wx.scan(code_a.scene)            # its tags are on the fan already: nothing new to mirror
    assert jobs.queued().count("workers.tags.sync_fan_tags") == 1


def test_an_account_without_user_management_gets_no_tag_jobs(app, make_account, phone, jobs):
    """§5.1: an unverified subscription account cannot tag fans: a follow asks for no tag sync."""
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wx0000000000000sub",
                       original_id="gh_sub", welcome_text="欢迎关注分店！")
    assert phone("carol", account=sub).follow() == f"欢迎关注分店！\n\n{BIND_OFFER}"
    assert "workers.tags.sync_fan_tags" not in jobs.queued()
