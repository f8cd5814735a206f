"""Freeing a phone held by another fan of an account (issue #4: what the owner of a phone bound to
another fan can do): the old WeChat sends 解绑, or an operator runs `members unbind`. And the
minute between two codes, whatever phone the fan asks for."""
from sqlalchemy import select

from models import Fan, Member
from tests.binding_support import ASK_PHONE, LEFT, sms_count


def bound_fan(db, account, phone_fixture, name: str, phone: str) -> Fan:
    person = phone_fixture(name)
    person.text("你好")                              # the fan row exists once they wrote
    member = db.scalar(select(Member).where(Member.phone == phone)) or Member(phone=phone, level="")
    db.add(member)
    db.flush()
    fan = db.scalar(select(Fan).where(Fan.openid == person.openid))
    fan.member_id, fan.role_tag = member.id, "会员"
    db.commit()
    return fan


def test_members_unbind_frees_the_phone_and_keeps_the_member(app, db, account, phone, jobs):
    """The operator frees 138****0000 on hq: the fan becomes a plain fan again (role tag job
    queued), the member row and its points stay for whoever binds the phone next."""
    fan = bound_fan(db, account, phone, "alice", "13800000000")
    result = app.test_cli_runner().invoke(args=["members", "unbind", "13800000000", "--account", "hq"])
    assert result.exit_code == 0, result.output
    assert "138****0000 unbound" in result.output and "13800000000" not in result.output
    db.expire_all()
    assert (db.get(Fan, fan.id).member_id, db.get(Fan, fan.id).role_tag) == (None, "粉丝")
    assert db.scalar(select(Member.id).where(Member.phone == "13800000000")) is not None
    assert "workers.tags.sync_fan_tags" in jobs.queued()


def test_members_unbind_refuses_what_is_not_bound(app, db, account):
    """A phone nobody bound on that account, or not a phone at all: a clear error, no change."""
    cli = app.test_cli_runner()
    nobody = cli.invoke(args=["members", "unbind", "13900000000", "--account", "hq"])
    assert nobody.exit_code != 0 and "139****0000 is not bound on hq" in nobody.output
    garbage = cli.invoke(args=["members", "unbind", "12345", "--account", "hq"])
    assert garbage.exit_code != 0 and "not a mainland mobile number" in garbage.output


def test_unbind_in_the_chat_asks_first_and_keeps_the_points(db, account, phone, jobs):
    """解绑 → confirm → released; anything but 确认 keeps the binding."""
    fan = bound_fan(db, account, phone, "alice", "13800000000")
    alice = phone("alice")
    assert "确定解除手机 138****0000 的绑定吗" in alice.text("解绑")
    assert alice.text("不了") == "好的，绑定保持不变。"
    alice.text("解绑")
    assert alice.text("确认") == "已解除绑定。需要时回复“绑定”重新绑定。"
    db.expire_all()
    assert db.get(Fan, fan.id).member_id is None


def test_another_phone_within_sixty_seconds_waits(app, phone, jobs, clock):
    """One code per minute per fan, whichever phone (a fan cannot text strangers by starting
    over): a second phone within 60 s is asked to wait, and gets its code after."""
    bob = phone("bob")
    assert bob.text("绑定") == ASK_PHONE
    bob.text("13800000001")
    jobs.run_all()
    clock.advance(seconds=10)
    assert bob.text("取消") == LEFT
    bob.text("绑定")
    assert bob.text("13800000002") == "请 50 秒后再获取验证码。"
    clock.advance(seconds=50)
    assert bob.text("13800000002").startswith("验证码已发送至 138****0002")
    jobs.run_all()
    assert sms_count(app) == 2
