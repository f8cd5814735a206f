"""Tags (issue #5, Build 5): our tags mirrored to WeChat, the 20-per-fan and 100-per-account
limits as bot/tags/fan_tags.py documents them, one menu-role tag applied last, 50 openids per batch
call, retries, and `tags reconcile` repairing what was changed in WeChat's backend."""
import logging

import requests
from sqlalchemy import select

from bot.binding.roles import set_role
from bot.jobs import committed
from bot.tags.fan_tags import ACCOUNT_LIMIT, FAN_LIMIT, give
from models import Fan, FanTag, WechatTag
from models.tag import FAN_ROLE, MEMBER_ROLE, STAFF_ROLE
from tests.outbound_support import run_due_retries

TAGGING = "/cgi-bin/tags/members/batchtagging"
UNTAGGING = "/cgi-bin/tags/members/batchuntagging"
CREATE = "/cgi-bin/tags/create"
GETIDLIST = "/cgi-bin/tags/getidlist"
WRITES = (TAGGING, UNTAGGING, CREATE, "/cgi-bin/tags/delete", "/cgi-bin/tags/update")


def fan_row(db, person) -> Fan:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))


def following(phone, jobs, *names: str) -> list:
    """People who follow, with the jobs their follows queued (the role tag) already run."""
    people = [phone(name) for name in names]
    for person in people:
        person.follow()
    jobs.run_all()
    return people


def tag(app, person, *names: str) -> list[str]:
    """What a feature does: give the fan local tags (the sync job follows the commit)."""
    with committed(app) as (db, enqueue):
        fan = db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))
        return give(db, fan, list(names), "test", enqueue)


def make_role(app, person, role: str) -> None:
    with committed(app) as (db, enqueue):
        fan = db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))
        set_role(fan, role, enqueue)


def on_wechat(world, person) -> list[str]:
    """The person's tag names on the sandbox WeChat, in the order they were applied."""
    names = {t["id"]: t["name"] for t in world.tags(person.account.appid)}
    return [names.get(i, str(i)) for i in world.fan_tags(person.account.appid, person.openid)]


def wx_id(world, appid: str, name: str) -> int:
    return next(t["id"] for t in world.tags(appid) if t["name"] == name)


def local(db, person) -> dict[str, tuple[bool, str | None]]:
    fan = fan_row(db, person)
    rows = db.scalars(select(FanTag).where(FanTag.fan_id == fan.id).order_by(FanTag.id))
    return {r.name: (r.on_wechat, r.held_back) for r in rows}


def writes(world) -> int:
    return sum(len(world.calls(path)) for path in WRITES)


def backend(world, appid: str):
    """An operator clicking in WeChat's backend (mp.weixin.qq.com), not through our API calls."""
    return world.tag_store, appid


def reconcile(app, *extra: str):
    return app.test_cli_runner().invoke(args=["tags", "reconcile", "--account", "hq", *extra])


# --- one fan: the sync job ------------------------------------------------------------------

def test_the_role_tag_is_applied_last_after_code_tags_are_added(app, db, phone, world, jobs):
    """§4.6: a conditional menu matches the last-applied tag, so after the code tags go on,
    the role tag is taken off and put back: it is last, and the only role tag."""
    alice, = following(phone, jobs, "alice")
    make_role(app, alice, MEMBER_ROLE)
    jobs.run_all()
    assert on_wechat(world, alice) == [MEMBER_ROLE]
    assert tag(app, alice, "门店A", "春季活动") == ["门店A", "春季活动"]
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", "春季活动", MEMBER_ROLE]
    assert world.fan_tags(alice.account.appid, alice.openid)[-1] == wx_id(world, alice.account.appid, MEMBER_ROLE)
    assert local(db, alice) == {"门店A": (True, None), "春季活动": (True, None)}
    make_role(app, alice, STAFF_ROLE)           # promoted: the member tag goes, staff comes last
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", "春季活动", STAFF_ROLE]
    assert jobs.failed() == 0


def test_the_sync_is_idempotent_and_skips_who_it_cannot_tag(app, db, phone, world, jobs, make_account):
    """Run twice, the second run only reads; a fan who left, and an account without the tags
    API (§5.1: unverified subscription account), get no tag calls at all."""
    from workers.tags import apply_role_tag, sync_fan_tags
    alice, = following(phone, jobs, "alice")
    tag(app, alice, "门店A")
    jobs.run_all()
    before = writes(world)
    with app.app_context():
        sync_fan_tags(fan_row(db, alice).id)
        apply_role_tag(fan_row(db, alice).id)      # the old job name, for jobs queued before a deploy
    assert writes(world) == before and on_wechat(world, alice) == ["门店A", FAN_ROLE]
    bob, = following(phone, jobs, "bob")
    bob.unfollow()
    tag(app, bob, "门店A")
    db.rollback()
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wx00000000000000sb",
                       original_id="gh_sub", welcome_text="欢迎")
    carol = phone("carol", account=sub)
    carol.follow()
    tag(app, carol, "门店A")
    calls = len(world.calls())
    jobs.run_all()
    assert len([c for c in world.calls()[calls:] if "/tags/" in c["path"]]) == 0
    assert local(db, bob) == {"门店A": (False, None)} and jobs.failed() == 0


def test_the_21st_tag_stays_local_and_the_role_tag_keeps_its_slot(app, db, phone, world, jobs):
    """§4.4: 20 tags per fan. WeChat carries the role tag and the 19 earliest; the 20th and
    21st stay local, held back by the fan tag limit; a 22nd later changes nothing there."""
    world.set_limit("tags_per_fan", 20)
    alice, = following(phone, jobs, "alice")
    names = [f"渠道{n:02d}" for n in range(1, 22)]
    tag(app, alice, *names)
    jobs.run_all()
    assert on_wechat(world, alice) == [*names[:19], FAN_ROLE]
    assert local(db, alice) == {**{n: (True, None) for n in names[:19]},
                                names[19]: (False, FAN_LIMIT), names[20]: (False, FAN_LIMIT)}
    assert {c["errcode"] for c in world.calls(TAGGING)} == {0}          # no call was refused
    assert {t["name"] for t in world.tags(alice.account.appid)} == {*names[:19], FAN_ROLE}  # none made for nothing
    tag(app, alice, "渠道22")
    untags = len(world.calls(UNTAGGING))
    jobs.run_all()
    assert on_wechat(world, alice) == [*names[:19], FAN_ROLE]          # no churn
    assert len(world.calls(UNTAGGING)) == untags
    assert local(db, alice)["渠道22"] == (False, FAN_LIMIT) and jobs.failed() == 0


def test_tags_that_are_not_ours_count_against_the_20(app, db, phone, world, jobs):
    """An operator put 2 tags on bob in the backend: they stay, so 17 of ours fit with the role tag."""
    bob, = following(phone, jobs, "bob")
    store, appid = backend(world, bob.account.appid)
    vip = [store.create(appid, {"tag": {"name": n}})["tag"]["id"] for n in ("VIP", "黑卡")]
    for tid in vip:
        store.tag(appid, {"tagid": tid, "openid_list": [bob.openid]})
    names = [f"活动{n:02d}" for n in range(1, 21)]
    tag(app, bob, *names)
    jobs.run_all()
    assert on_wechat(world, bob) == ["VIP", "黑卡", *names[:17], FAN_ROLE]
    assert {c["errcode"] for c in world.calls(TAGGING)} == {0}      # counted first, never bumped into
    assert [n for n, (on, why) in local(db, bob).items() if why == FAN_LIMIT] == names[17:]


def test_a_45059_from_wechat_holds_that_tag_back_without_retrying(app, db, phone, world, jobs):
    """§4.4: if WeChat says the fan is full anyway, that tag stays local the same way; the job
    ends well and is not retried; the role tag still goes on last."""
    alice, = following(phone, jobs, "alice")
    world.fail_next(TAGGING, 45059, times=1)
    tag(app, alice, "门店A", "门店B")
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店B", FAN_ROLE]
    assert local(db, alice) == {"门店A": (False, FAN_LIMIT), "门店B": (True, None)}
    assert jobs.failed() == 0 and run_due_retries(jobs) == 0


def test_the_role_tag_takes_the_slot_of_our_latest_tag_when_wechat_refuses_it(app, db, phone, world, jobs):
    """§4.4: the role tag always has a slot. WeChat refuses the role tag (45059): our latest tag
    makes way (held back) and the role tag goes on last."""
    alice, = following(phone, jobs, "alice")
    tag(app, alice, "门店A", "门店B")
    jobs.run_all()
    make_role(app, alice, MEMBER_ROLE)
    world.fail_next(TAGGING, 45059, times=1)
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", MEMBER_ROLE]
    assert local(db, alice) == {"门店A": (True, None), "门店B": (False, FAN_LIMIT)}


def test_the_101st_tag_stays_local_and_the_run_warns_once(app, db, phone, world, jobs, caplog):
    """§4.4: 100 tags per account (4 here, to be quick). The role tag is made first; what does
    not fit stays local, one create is tried per run, one warning; nothing fails or retries."""
    world.set_limit("tags_per_account", 4)
    alice, bob = following(phone, jobs, "alice", "bob")
    with caplog.at_level(logging.WARNING, logger="workers.tags"):
        tag(app, alice, "A", "B", "C", "D", "E")
        jobs.run_all()
    assert on_wechat(world, alice) == ["A", "B", "C", FAN_ROLE]
    assert local(db, alice) == {"A": (True, None), "B": (True, None), "C": (True, None),
                                "D": (False, ACCOUNT_LIMIT), "E": (False, ACCOUNT_LIMIT)}
    assert [c["errcode"] for c in world.calls(CREATE)] == [0, 0, 0, 0, 45056]
    assert sum("45056" in r.getMessage() for r in caplog.records) == 1
    tag(app, bob, "A", "F")
    jobs.run_all()
    assert on_wechat(world, bob) == ["A", FAN_ROLE]
    assert local(db, bob) == {"A": (True, None), "F": (False, ACCOUNT_LIMIT)}
    assert jobs.failed() == 0 and run_due_retries(jobs) == 0


def test_the_real_100_per_account(app, db, phone, world, jobs):
    """§4.4 at WeChat's own number: 98 tags made in the backend, then the role tag and one of
    ours fill the account; the next one stays local and the fan still gets the role tag."""
    alice, = following(phone, jobs, "alice")
    store, appid = backend(world, alice.account.appid)
    for n in range(98):
        store.create(appid, {"tag": {"name": f"运营{n}"}})
    tag(app, alice, "门店A", "门店B")
    jobs.run_all()
    assert len(world.tags(appid)) == 100
    assert on_wechat(world, alice) == ["门店A", FAN_ROLE]
    assert local(db, alice)["门店B"] == (False, ACCOUNT_LIMIT) and jobs.failed() == 0


def test_busy_wechat_makes_the_sync_retry_and_then_succeed(app, db, phone, world, jobs):
    """§4.15 -1 system busy: the job raises, rq retries it with (5, 15, 60), the retry tags."""
    alice, = following(phone, jobs, "alice")
    world.fail_next(GETIDLIST, -1)
    tag(app, alice, "门店A")
    jobs.run_all()
    assert on_wechat(world, alice) == [FAN_ROLE] and jobs.failed() == 0
    assert run_due_retries(jobs) == 1
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", FAN_ROLE]
    assert local(db, alice) == {"门店A": (True, None)}


def test_a_timeout_makes_the_sync_retry(app, db, phone, world, jobs):
    """No answer at all (the call may or may not have happened): retried like -1."""
    alice, = following(phone, jobs, "alice")
    http, real_send, dropped = app.extensions["http"], app.extensions["http"].send, []

    def send(request, **kwargs):
        if TAGGING in request.url and not dropped:
            dropped.append(request.url)
            raise requests.ReadTimeout("read timed out", request=request)
        return real_send(request, **kwargs)
    http.send = send
    tag(app, alice, "门店A")
    jobs.run_all()
    assert dropped and run_due_retries(jobs) == 1
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", FAN_ROLE] and jobs.failed() == 0


def test_a_tag_deleted_in_the_backend_is_created_again_by_the_next_sync(app, db, phone, world, jobs):
    """45159: our id is stale; the job forgets it, creates the tag again and tags the fan."""
    alice, = following(phone, jobs, "alice")
    tag(app, alice, "门店A")
    jobs.run_all()
    store, appid = backend(world, alice.account.appid)
    old = wx_id(world, appid, "门店A")
    store.delete(appid, {"tag": {"id": old}})
    tag(app, alice, "门店C")
    jobs.run_all()
    assert on_wechat(world, alice) == ["门店A", "门店C", FAN_ROLE]
    db.rollback()
    assert db.scalar(select(WechatTag.wx_id).where(WechatTag.name == "门店A")) == wx_id(world, appid, "门店A") != old


# --- a whole account: tags reconcile -----------------------------------------------------------

def test_reconcile_repairs_what_was_changed_in_the_backend(app, db, phone, world, jobs):
    """A tag deleted, a fan untagged, a fan tagged wrongly with one of ours, a wrong role tag:
    --dry-run reports and changes nothing; reconcile repairs all four, role tags last; a second
    reconcile finds nothing to do."""
    alice, bob, carol, dave = following(phone, jobs, "alice", "bob", "carol", "dave")
    tag(app, alice, "门店A")
    tag(app, bob, "门店A")
    tag(app, carol, "门店B")
    make_role(app, bob, MEMBER_ROLE)
    make_role(app, dave, STAFF_ROLE)
    jobs.run_all()
    store, appid = backend(world, alice.account.appid)
    old_b = wx_id(world, appid, "门店B")
    store.delete(appid, {"tag": {"id": old_b}})                                   # carol loses it
    store.untag(appid, {"tagid": wx_id(world, appid, "门店A"), "openid_list": [bob.openid]})
    store.tag(appid, {"tagid": wx_id(world, appid, "门店A"), "openid_list": [carol.openid]})
    store.tag(appid, {"tagid": wx_id(world, appid, STAFF_ROLE), "openid_list": [alice.openid]})
    people = (alice, bob, carol, dave)
    broken = [on_wechat(world, p) for p in people]
    assert broken == [["门店A", FAN_ROLE, STAFF_ROLE], [MEMBER_ROLE], [FAN_ROLE, "门店A"], [STAFF_ROLE]]
    before = writes(world)

    dry = reconcile(app, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "tag 门店B was deleted on WeChat: would be created again" in dry.output
    assert "tag 门店A: +1 -1\n" in dry.output and "(dry run: nothing changed)" in dry.output
    assert writes(world) == before and [on_wechat(world, p) for p in people] == broken

    done = reconcile(app)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith(f"tag 门店B was deleted on WeChat: created again (id {old_b} -> ")
    assert lines[1:] == [
        "tag 会员: +0 -0, re-applied last 1",          # bob got 门店A back, so 会员 went on again
        "tag 员工: +0 -1",                              # alice's wrong role tag
        "tag 粉丝: +0 -0, re-applied last 1",          # carol: 门店B came after her role tag
        "tag 门店A: +1 -1",                             # bob back on, carol off
        "tag 门店B: +1 -0",                             # carol, on the tag made again
        "held back (stay local): none",
        "total: +2 -2, role tags re-applied last 2, 4 following fans"]
    assert [on_wechat(world, p) for p in people] == [
        ["门店A", FAN_ROLE], ["门店A", MEMBER_ROLE], ["门店B", FAN_ROLE], [STAFF_ROLE]]
    db.rollback()
    assert db.scalar(select(WechatTag.wx_id).where(WechatTag.name == "门店B")) == wx_id(world, appid, "门店B")

    again = reconcile(app)
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "nothing to do: WeChat agrees with our tags (4 following fans)"
    assert writes(world) == before + 1 + 4 + 4     # 1 create, 4 untags (员工, 门店A, 会员, 粉丝), 4 tags


def test_reconcile_tags_and_untags_50_openids_per_call(app, db, phone, world):
    """§4.4: batchtagging/batchuntagging take at most 50 openids (40032 past 50): 120 fans get
    门店A and their role tag in 50 + 50 + 20; 60 wrongly tagged in the backend lose 门店B in 50 + 10.
    (The jobs their follows queued never run: fans from before tags were mirrored.)"""
    people = [phone(f"fan{n:03d}") for n in range(120)]
    for person in people:
        person.follow()
    db.rollback()
    fans = db.scalars(select(Fan).order_by(Fan.id)).all()
    db.add_all(FanTag(fan_id=f.id, name="门店A", source="test") for f in fans)
    db.add(FanTag(fan_id=fans[0].id, name="门店B", source="test"))
    db.commit()
    result = reconcile(app)
    assert result.exit_code == 0, result.output
    assert "tag 门店A: +120 -0" in result.output and "tag 粉丝: +120 -0" in result.output
    appid = people[0].account.appid
    sizes = {name: [len(c["body"]["openid_list"]) for c in world.calls(TAGGING)
                    if c["body"]["tagid"] == wx_id(world, appid, name)] for name in ("门店A", "粉丝")}
    assert sizes == {"门店A": [50, 50, 20], "粉丝": [50, 50, 20]}
    assert all(len(c["body"]["openid_list"]) <= 50 for c in world.calls(TAGGING))
    store, b = world.tag_store, wx_id(world, appid, "门店B")
    for start in (1, 51):
        store.tag(appid, {"tagid": b, "openid_list": [p.openid for p in people[start:min(start + 50, 61)]]})
    result = reconcile(app)
    assert "tag 门店B: +0 -60" in result.output
    assert [len(c["body"]["openid_list"]) for c in world.calls(UNTAGGING)] == [50, 10]
    assert all(on_wechat(world, p) == (["门店A", "门店B", FAN_ROLE] if p is people[0] else ["门店A", FAN_ROLE])
               for p in people)


def test_reconcile_holds_back_what_does_not_fit_and_reports_it(app, db, phone, world, jobs):
    """The limits hold in reconcile too: the 20th tag of a fan and a tag the full account
    cannot make stay local and are counted; renamed and foreign tags are reported, left alone."""
    world.set_limit("tags_per_account", 22)
    alice, bob = following(phone, jobs, "alice", "bob")
    db.rollback()
    fan_a, fan_b = fan_row(db, alice), fan_row(db, bob)
    db.add_all(FanTag(fan_id=fan_a.id, name=f"渠道{n:02d}", source="test") for n in range(1, 21))
    db.add_all(FanTag(fan_id=fan_b.id, name=n, source="test") for n in ("渠道01", "会员日", "秋季"))
    db.commit()
    appid = alice.account.appid
    world.tag_store.create(appid, {"tag": {"name": "VIP"}})
    result = reconcile(app)
    assert result.exit_code == 0, result.output
    assert on_wechat(world, alice) == [*(f"渠道{n:02d}" for n in range(1, 20)), FAN_ROLE]
    assert on_wechat(world, bob) == ["渠道01", "会员日", FAN_ROLE]       # 22 tags: 秋季 does not fit
    assert "held back (stay local): account tag limit 1, fan tag limit 1" in result.output
    assert local(db, alice)["渠道20"] == (False, FAN_LIMIT)
    assert local(db, bob)["秋季"] == (False, ACCOUNT_LIMIT)
    world.tag_store.update(appid, {"tag": {"id": wx_id(world, appid, "会员日"), "name": "会员节"}})
    again = reconcile(app)
    assert f"tag 会员日 (id {wx_id(world, appid, '会员节')}) is named 会员节 on WeChat; kept by id" in again.output
    assert f"tag VIP (id {wx_id(world, appid, 'VIP')}) on WeChat is not ours" in again.output
    assert "nothing to do" in again.output and on_wechat(world, bob) == ["渠道01", "会员节", FAN_ROLE]


def test_tags_list_shows_our_tags_here_and_on_wechat(app, db, phone, world, jobs):
    alice, bob = following(phone, jobs, "alice", "bob")
    tag(app, alice, "门店A")
    tag(app, bob, "门店A", "门店B")
    make_role(app, bob, MEMBER_ROLE)
    jobs.run_all()
    world.tag_store.create(alice.account.appid, {"tag": {"name": "VIP"}})
    result = app.test_cli_runner().invoke(args=["tags", "list", "--account", "hq"])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    ids = {t["name"]: str(t["id"]) for t in world.tags(alice.account.appid)}
    assert rows == [["tag", "id", "fans here", "on WeChat", "held back"],
                    ["粉丝 (role)", ids["粉丝"], "1", "1", "0"],
                    ["会员 (role)", ids["会员"], "1", "1", "0"],
                    ["员工 (role)", "-", "0", "not created", "0"],
                    ["门店A", ids["门店A"], "2", "2", "0"],
                    ["门店B", ids["门店B"], "1", "1", "0"],
                    ["VIP (not ours)", ids["VIP"], "-", "0", "-"]]


def test_tags_commands_refuse_an_unknown_or_unverified_account(app, make_account):
    make_account(slug="sub", type="subscription", verified=False, appid="wx00000000000000sb",
                 original_id="gh_sub")
    cli = app.test_cli_runner()
    for command in ("reconcile", "list"):
        nobody = cli.invoke(args=["tags", command, "--account", "nope"])
        assert nobody.exit_code == 1 and "no account nope" in nobody.output
        sub = cli.invoke(args=["tags", command, "--account", "sub"])
        assert sub.exit_code == 1 and "sub may not use WeChat's tags" in sub.output


def test_a_role_tag_deleted_in_the_backend_comes_back_with_a_word_about_menus(app, db, phone, world, jobs):
    """§4.6: conditional menus match a tag id; a role tag made again has a new one, so reconcile
    puts it back on every fan and says the menus must be pushed again."""
    alice, = following(phone, jobs, "alice")
    tag(app, alice, "门店A")
    jobs.run_all()
    appid = alice.account.appid
    world.tag_store.delete(appid, {"tag": {"id": wx_id(world, appid, FAN_ROLE)}})
    result = reconcile(app)
    assert result.exit_code == 0, result.output
    assert "its conditional menu matched the old id: run `flask --app wsgi menus push`" in result.output
    assert "tag 粉丝: +1 -0" in result.output and on_wechat(world, alice) == ["门店A", FAN_ROLE]


def test_reconcile_reports_the_fans_it_skipped_and_why_instead_of_nothing_to_do(app, db, phone, world, jobs):
    """A fan WeChat will not read the tags of (40003 invalid openid) is skipped: reconcile names
    the fan and WeChat's answer, and does not claim WeChat agrees."""
    alice, bob = following(phone, jobs, "alice", "bob")
    world.fail_next(GETIDLIST, 40003)             # the first fan read, alice (fans in id order)
    result = reconcile(app)
    assert result.exit_code == 0, result.output
    assert f"skipped fan {alice.openid}: WeChat answered 40003" in result.output
    assert "nothing to do" not in result.output
    assert result.output.splitlines()[-1].startswith(
        "1 fans skipped (their tags could not be read; run reconcile again once WeChat answers for them); "
        "1 following fans compared, all agree")
    assert "nothing to do" in reconcile(app).output                # WeChat answers again: all read
