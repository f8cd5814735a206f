"""Gathering fans to HQ: `accounts links` and the store manager's 拉新 report count what the
database holds, per subsidiary; the weekly reminder to unlinked members (WECHAT-PLATFORM.md §5.3)."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Company, Fan, FanLink, Member, Staff, Store
from tests.binding_support import bind, fan_of, load_rules
from tests.conftest import later
from tests.linking_support import SUB_ACCOUNT, card_token

REMINDER = "小提示：关注「HQ」，积分商城、人工客服都在那里，会员权益与本号通用。回复“服务号”获取二维码。"
ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def figures(output: str) -> dict[str, tuple[int, ...]]:
    rows = [ROW.match(line) for line in output.splitlines()[1:]]
    return {m.group(1): tuple(int(m.group(i)) for i in range(2, 6)) for m in rows if m}


def expected(db, account, now) -> tuple[int, ...]:
    """The same figures, counted plainly from the rows."""
    db.rollback()
    fans = [f for f in db.scalars(select(Fan).where(Fan.account_id == account.id)) if f.following]
    ids = {f.id for f in fans}
    links = [row for row in db.scalars(select(FanLink)) if row.fan_id in ids]
    first = {}
    for row in links:
        first[row.fan_id] = min(first.get(row.fan_id, row.linked_at), row.linked_at)
    return (len(fans), len(first), sum(1 for f in fans if f.member_id is not None),
            sum(1 for at in first.values() if at >= now - timedelta(days=30)))


def test_the_links_report_matches_the_database(app, db, phone, jobs, clock, account, make_account):
    east = make_account(**SUB_ACCOUNT)
    west = make_account(**{**SUB_ACCOUNT, "slug": "west", "appid": "wxwe5t000000000002", "token": "westtoken",
                           "original_id": "gh_we5t00000002", "name": "华西旅行"})
    linked_long_ago = phone("old", account=east)
    linked_long_ago.follow()
    for n, name in enumerate(["ann", "ben", "cat"]):
        person = phone(name, account=east)
        person.follow()
        bind(person, app, jobs, f"1381234000{n}")
        person.text("跳过")
    phone("dan", account=east).follow()
    gone = phone("eve", account=east)
    gone.follow()
    gone.unfollow()
    phone("fay", account=west).follow()
    # ann links by scanning today; "old" was linked 40 days ago (a link made before, by scan).
    ann = phone("ann", account=east)
    token = card_token(ann.send("text", {"Content": "服务号"}))
    jobs.run_all()
    phone("ann-hq", account=account).follow(scene=f"b:{token}")
    hq_old = phone("old-hq", account=account)
    hq_old.follow()
    db.add(FanLink(account_id=east.id, fan_id=fan_of(db, linked_long_ago).id, service_fan_id=fan_of(db, hq_old).id,
                   method="scan", linked_at=clock.now() - timedelta(days=40)))
    db.commit()

    now = clock.now()
    both = figures(cli(app, "accounts", "links"))
    assert both == {"east": expected(db, east, now), "west": expected(db, west, now)}
    assert both["east"] == (5, 2, 3, 1) and both["west"] == (1, 0, 0, 0)
    assert figures(cli(app, "accounts", "links", "--account", "east")) == {"east": (5, 2, 3, 1)}
    refused = app.test_cli_runner().invoke(args=["accounts", "links", "--account", "hq"])
    assert refused.exit_code != 0 and "hq is a service account" in refused.output

    # The store manager's 拉新 on the (unverified) subsidiary: the store's fans, same figures.
    store = Store(code="XH", name="西湖门店", company_id=_company(db).id)
    db.add(store)
    db.flush()
    for fan in db.scalars(select(Fan).where(Fan.account_id == east.id)):
        fan.store_id = store.id
    db.add(Staff(phone="13900009999", name="李店长", store_id=store.id, roles="manager", active=True))
    db.commit()
    boss = phone("boss", account=east)
    boss.follow()
    bind(boss, app, jobs, "13900009999")
    reply = boss.text("拉新")
    # The manager's own fan came without a code: not the store's fan, so the store has the five.
    assert "\n本店订阅号粉丝关联服务号：\n「华东旅行」粉丝 5，已关联服务号 2，会员 3，近 30 天新关联 1" in reply
    assert expected(db, east, now) == (6, 2, 4, 1)
    assert figures(cli(app, "accounts", "links", "--account", "east")) == {"east": (6, 2, 4, 1)}


def _company(db) -> Company:
    company = Company(code="HZ", name="杭州公司")
    db.add(company)
    db.flush()
    return company


def test_an_unlinked_member_is_reminded_at_most_once_a_week_and_never_once_linked(app, db, phone, jobs, clock,
                                                                                  account, make_account):
    east = make_account(**SUB_ACCOUNT)
    gus = phone("gus", account=east)
    gus.follow()
    assert gus.text("积分") == "您还不是会员。回复“绑定”，验证手机号即可成为会员，开始累积积分和成长值。"  # a fan: no
    bind(gus, app, jobs, "13812345678")
    gus.text("跳过")
    first = gus.text("积分")
    assert first.startswith("当前积分：110\n") and first.endswith(f"\n\n{REMINDER}")
    assert REMINDER not in gus.text("积分")
    later(clock, days=6, hours=23)
    assert REMINDER not in gus.text("我的")
    later(clock, hours=2)
    assert gus.text("我的").endswith(REMINDER)
    later(clock, days=8)
    token = card_token(gus.send("text", {"Content": "服务号"}))     # a card: no reminder inside it
    jobs.run_all()
    phone("gus-hq", account=account).follow(scene=f"b:{token}")
    later(clock, days=8)
    assert REMINDER not in gus.text("积分")
    assert db.scalar(select(Member.points)) == 110
