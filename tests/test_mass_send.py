"""Mass send by tag (群发): planned from our own counts, previewed on a staff member's WeChat,
sent once under a retried job (the clientmsgid), its MASSSENDJOBFINISH recorded; WeChat's
limits (4 a month per 服务号 fan, 1 a day on a 订阅号) and unverified accounts refused."""
import re

import pytest
from sqlalchemy import select

from models import MassDelivery, Staff
from tests.binding_support import bind, load_rules, roster
from tests.outbound_support import run_due_retries
from tests.test_tags import following, tag

SENDALL = "/cgi-bin/message/mass/sendall"
STAFF_PHONE = "13900139000"


def mass(app, *args):
    return app.test_cli_runner().invoke(args=["mass", *args])


def group_of(output: str) -> str:
    return re.search(r"mass confirm (\w+)", output).group(1)


def mass_messages(world, person, kind: str = "mass") -> list[dict]:
    return [m for m in world.messages_to(person.account.appid, person.openid) if m["kind"] == kind]


def finish(phone, world, account) -> int:
    """WeChat pushes the finish events of the sends it completed; how many."""
    events = world.mass_finish_events(account.appid)
    for event in events:
        phone("wechat-system").event("MASSSENDJOBFINISH", extra={k: str(v) for k, v in event.items()})
    return len(events)


@pytest.fixture
def vips(app, phone, jobs):
    people = following(phone, jobs, "alice", "bob", "carol", "dave")
    for person in people[:3]:
        tag(app, person, "VIP")
    jobs.run_all()              # the tags reach WeChat
    return people


def test_planned_previewed_sent_once_under_a_retry_and_finished(app, db, account, phone, jobs, world, vips,
                                                                 monkeypatch):
    roster(db, STAFF_PHONE, name="王经理", roles="manager")
    load_rules(app)
    manager = phone("wang")
    manager.follow()
    bind(manager, app, jobs, STAFF_PHONE)
    jobs.run_all()
    planned = mass(app, "send", "--account", "hq", "--tag", "VIP", "--text", "双十二会员日，积分翻倍！",
                   "--preview-to", STAFF_PHONE)
    assert planned.exit_code == 0, planned.output
    assert "hq: tag VIP: 3 following fans carry it; 3 within WeChat's limit (4 a month per fan)" in planned.output
    assert "preview queued to staff 139****9000" in planned.output
    jobs.run_all()
    assert [m["content"] for m in mass_messages(world, manager, "mass_preview")] == ["双十二会员日，积分翻倍！"]
    assert all(mass_messages(world, p) == [] for p in vips) and world.calls(SENDALL) == []
    # The first attempt's answer is lost after WeChat accepted it: the job fails and is retried.
    import workers.mass
    real, failures = workers.mass.record_deliveries, []

    def lost_once(*args):
        if not failures:
            failures.append(1)
            raise ConnectionError("the database went away after WeChat accepted the send")
        return real(*args)
    monkeypatch.setattr(workers.mass, "record_deliveries", lost_once)
    confirmed = mass(app, "confirm", group_of(planned.output))
    assert "1 send(s) queued" in confirmed.output
    jobs.run_all()
    assert run_due_retries(jobs) == 1
    jobs.run_all()
    calls = world.calls(SENDALL)
    assert len(calls) == 2 and calls[0]["body"]["clientmsgid"] == calls[1]["body"]["clientmsgid"]
    assert [c["errcode"] for c in calls] == [0, 45065]
    for person in vips[:3]:
        assert [m["content"] for m in mass_messages(world, person)] == ["双十二会员日，积分翻倍！"]
    assert mass_messages(world, vips[3]) == []
    db.rollback()
    assert len(list(db.scalars(select(MassDelivery)))) == 3
    assert "no finish event yet" in mass(app, "list").output
    assert finish(phone, world, account) == 1
    listed = mass(app, "list").output
    assert re.search(r"hq +VIP +text +finished +planned 3 \(within limit 3\) +total 3 filtered 3 sent 3 errors 0",
                     listed), listed


def test_a_fan_gets_four_mass_messages_a_month_on_a_service_account(app, db, account, phone, jobs, world, vips):
    for n in range(4):
        planned = mass(app, "send", "--account", "hq", "--tag", "VIP", "--text", f"第{n + 1}期")
        assert "3 within WeChat's limit" in planned.output
        mass(app, "confirm", group_of(planned.output))
        jobs.run_all()
    fifth = mass(app, "send", "--account", "hq", "--tag", "VIP", "--text", "第5期")
    assert "3 following fans carry it; 0 within WeChat's limit" in fifth.output
    assert len(mass_messages(world, vips[0])) == 4


def test_a_subscription_account_sends_once_a_day_and_an_unverified_one_not_at_all(
        app, db, make_account, phone, jobs, world, clock):
    sub = make_account(slug="sub", type="subscription", verified=True, appid="wx5ub0000000000002",
                       original_id="gh_5ub000000002", token="subtoken", secret="s2")
    people = following(lambda name: phone(name, account=sub), jobs, "erin", "frank")
    for person in people:
        tag(app, person, "新品")
    jobs.run_all()
    first = mass(app, "send", "--account", "sub", "--tag", "新品", "--text", "上新了")
    assert "2 within WeChat's limit (1 mass send a day)" in first.output
    mass(app, "confirm", group_of(first.output))
    jobs.run_all()
    again = mass(app, "send", "--account", "sub", "--tag", "新品", "--text", "再来一次")
    assert again.exit_code != 0 and "has sent its one mass message today" in again.output
    clock.advance(days=1)
    assert "2 within WeChat's limit" in mass(app, "send", "--account", "sub", "--tag", "新品", "--text", "明天").output
    make_account(slug="tiny", type="subscription", verified=False, appid="wx7iny000000000003",
                 original_id="gh_7iny00000003", token="tinytoken", secret="s3")
    refused = mass(app, "send", "--account", "tiny", "--tag", "新品", "--text", "hi")
    assert refused.exit_code != 0 and "tiny may not mass send (an unverified account" in refused.output


def test_one_content_to_several_accounts_and_bad_input(app, db, account, make_account, phone, jobs, world, vips,
                                                       tmp_path):
    news = tmp_path / "news.yaml"
    news.write_text("- {title: 冬季线路, content: 雪乡五日游}\n", encoding="utf-8")
    sub = make_account(slug="sub", type="subscription", verified=True, appid="wx5ub0000000000002",
                       original_id="gh_5ub000000002", token="subtoken", secret="s2")
    erin = following(lambda name: phone(name, account=sub), jobs, "erin")[0]
    tag(app, erin, "VIP")
    jobs.run_all()
    planned = mass(app, "send", "--account", "hq", "--account", "sub", "--tag", "VIP", "--news", str(news))
    assert "hq: tag VIP: 3 following" in planned.output and "sub: tag VIP: 1 following" in planned.output
    assert "2 send(s) queued" in mass(app, "confirm", group_of(planned.output)).output
    jobs.run_all()
    assert [m["msgtype"] for m in mass_messages(world, erin)] == ["mpnews"]
    assert [m["msgtype"] for m in mass_messages(world, vips[0])] == ["mpnews"]
    both = mass(app, "send", "--account", "hq", "--tag", "VIP", "--text", "x", "--news", str(news))
    assert both.exit_code != 0 and "exactly one of --text, --news FILE, --image FILE" in both.output
    nobody = mass(app, "send", "--account", "hq", "--tag", "VIP", "--text", "x", "--preview-to", "13700000000")
    assert nobody.exit_code != 0 and "no staff member 137****0000 follows hq" in nobody.output
    assert "no planned send nope" in mass(app, "confirm", "nope").output
    assert db.scalar(select(Staff.id)) is None
