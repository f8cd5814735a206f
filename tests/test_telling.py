"""ctx.tell in a push and job.tell in a job: one call whoever the person is (a fan, a member,
an openid), a text or an image, ending in the outbound policy (bot/outbound.py)."""
import pytest
from outbound_support import custom_texts
from sqlalchemy import select

from bot.dispatch import Dispatcher, Router, text_of
from bot.routes import ROUTERS
from bot.sandbox.phone import sandbox_openid
from bot.telling import Media
from handlers.common import FALLBACK
from models import Fan, Member, OutboundMessage
from workers.runtime import job_scope


@pytest.fixture
def teller(app):
    """`告诉会员 X`: X for the sender's member; `告诉 bob X`: X for bob's openid; `图片 bob`: an image."""
    router = Router("teller")

    @router.on(lambda msg: text_of(msg).startswith("告诉会员 "))
    def to_member(ctx, msg):
        ctx.tell(ctx.db.get(Member, ctx.fan.member_id), text_of(msg)[5:])
        return "好的"

    @router.on(lambda msg: text_of(msg).startswith("告诉 bob "))
    def to_bob(ctx, msg):
        ctx.tell(sandbox_openid(ctx.account.slug, "bob"), text_of(msg)[7:])
        return "好的"

    @router.on(lambda msg: text_of(msg) == "图片 bob")
    def image_to_bob(ctx, msg):
        ctx.tell(sandbox_openid(ctx.account.slug, "bob"), Media("image", "MEDIA1", "[海报]"))
        return "好的"

    app.extensions["dispatcher"] = Dispatcher([router, *ROUTERS], strict=True)
    return app


def make_member(db, fan_openid: str) -> Member:
    member = Member(phone="13800000000")
    db.add(member)
    db.flush()
    fan = db.scalar(select(Fan).where(Fan.openid == fan_openid))
    fan.member_id, fan.following = member.id, True
    db.commit()
    return member


def test_telling_the_senders_member_joins_the_passive_reply(teller, phone, db):
    alice = phone("alice")
    alice.follow()
    make_member(db, alice.openid)
    assert alice.text("告诉会员 积分到账") == "积分到账\n\n好的"


def test_telling_another_openid_goes_out_as_a_customer_service_message(teller, phone, world, jobs):
    alice, bob = phone("alice"), phone("bob")
    assert bob.text("在吗") == FALLBACK
    assert alice.text("告诉 bob 开会了") == "好的"
    jobs.run_all()
    assert custom_texts(world, bob) == ["开会了"]


def test_an_image_is_pending_media_for_its_person(teller, phone, db, jobs):
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    alice.text("图片 bob")
    row = db.scalar(select(OutboundMessage).where(OutboundMessage.openid == bob.openid))
    assert (row.msg_type, row.media_id, row.content) == ("image", "MEDIA1", "[海报]")


def test_a_job_tells_a_member_through_the_account_they_follow(app, phone, db, world, jobs):
    bob = phone("bob")
    bob.text("在吗")
    member = make_member(db, bob.openid)
    with app.app_context(), job_scope() as job:
        job.tell(job.db.get(Member, member.id), "您的订单已发货")
    jobs.run_all()
    assert custom_texts(world, bob) == ["您的订单已发货"]


def test_a_member_nobody_can_reach_is_not_queued_but_recorded_with_why(app, db, jobs):
    member = Member(phone="13800000001")
    db.add(member)
    db.commit()
    with app.app_context(), job_scope() as job:
        job.tell(job.db.get(Member, member.id), "您的订单已发货")
    rows = db.scalars(select(OutboundMessage)).all()
    assert [(r.member_id, r.status, r.reason, r.content, r.account_id, r.openid) for r in rows] == [
        (member.id, "unreachable", "follows none of our accounts", "您的订单已发货", None, None)]
    assert jobs.run_all() == 0


def test_a_member_who_unfollowed_is_recorded_unreachable_on_their_last_follower_row(app, phone, db, jobs):
    bob = phone("bob")
    bob.follow()
    member = make_member(db, bob.openid)
    bob.unfollow()
    with app.app_context(), job_scope() as job:
        job.tell(job.db.get(Member, member.id), Media("image", "MEDIA2", "[海报]"))
    row = db.scalar(select(OutboundMessage).where(OutboundMessage.member_id == member.id))
    assert (row.openid, row.status, row.reason, row.msg_type, row.media_id) == (
        bob.openid, "unreachable", "follows none of our accounts", "image", "MEDIA2")
    jobs.run_all()
    assert db.scalars(select(OutboundMessage.status).where(OutboundMessage.openid == bob.openid)).all() == [
        "unreachable"]
