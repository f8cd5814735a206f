"""Routing and conversations, as transcripts through the webhook (STYLE.md 7.3, 7.5; DESIGN.md
"One push, in order" steps 4-5)."""
import json

import pytest
from sqlalchemy import func, select

from bot import keys, pipeline
from bot.dispatch import END, PASS, Dispatcher, Router, Turn, text_of
from bot.routes import ROUTERS
from handlers.common import FALLBACK, UNKNOWN_MENU
from handlers.me import FAN_HELP as HELP
from models import Event, Fan, KeywordReply, OutboundMessage
from models.keyword import EXACT

NAME, CITY = "signup:name", "signup:city"
LEFT = "已退出当前操作。需要时可以从菜单重新开始。"
ASK_NAME, ASK_CITY = "请问您的姓名？", "您在哪个城市？"


def signup_router() -> Router:
    """报名 → NAME --name--> CITY --city--> END; "爆炸" breaks after side effects; "火星" is a bug."""
    router = Router("signup")

    @router.text("报名")
    def start(ctx, msg):
        return Turn(ASK_NAME, NAME)

    @router.step(NAME)
    def got_name(ctx, msg):
        ctx.conv.data["name"] = text_of(msg)
        return Turn(ASK_CITY, CITY)

    @router.step(CITY)
    def got_city(ctx, msg):
        city = text_of(msg)
        if city == "爆炸":
            ctx.fan.follow_count = 99
            ctx.db.add(KeywordReply(account_id=ctx.account.id, keyword="爆炸", match=EXACT, reply="x"))
            ctx.db.flush()
            ctx.conv.data["city"] = city
            ctx.conv.state = NAME
            ctx.enqueue("workers.messaging.deliver_pending", ctx.account.id, ctx.openid)
            ctx.tell("o-someone-else", "有人报名了")
            raise RuntimeError("step bug after side effects")
        if city == "火星":
            return Turn("去火星", "signup:planet")       # a state no flow declares
        return Turn(f"{ctx.conv.data['name']}，{city}，报名成功", END)

    @router.click("活动")
    def events_menu(ctx, msg):
        return "本周活动：周六徒步"
    return router


def order_routers() -> list[Router]:
    first, second = Router("first"), Router("second")

    @first.text("顺序")
    def first_wins(ctx, msg):
        return "第一个"

    @first.text("顺序")
    def never_reached(ctx, msg):
        return "同一路由的第二个"

    @first.text("让过")
    def declines(ctx, msg):
        return PASS

    @second.text("顺序", "让过")
    def second_router(ctx, msg):
        return "第二个"
    return [first, second]


@pytest.fixture(autouse=True)
def routes(app):
    app.extensions["dispatcher"] = Dispatcher([signup_router(), *order_routers(), *ROUTERS], strict=True)


def conversation(redis, wx) -> dict | None:
    raw = redis.get(keys.conversation(wx.account.slug, wx.openid))
    return None if raw is None else {k: v for k, v in json.loads(raw).items() if k != "v"}


def count(app, model) -> int:
    with app.extensions["db"]() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_two_step_flow_keeps_its_data_between_steps(wx, redis):
    """STYLE.md 7.3: "<flow>:<step>" states, data carried in the conversation, END clears it."""
    assert wx.text("报名") == ASK_NAME
    assert conversation(redis, wx) == {"state": NAME, "data": {}}
    assert wx.text("张三") == ASK_CITY
    assert conversation(redis, wx) == {"state": CITY, "data": {"name": "张三"}}
    assert wx.text("上海") == "张三，上海，报名成功"
    assert conversation(redis, wx) is None
    assert wx.text("上海") == FALLBACK


@pytest.mark.parametrize("word", ["取消", "退出"])
@pytest.mark.parametrize("answers", [[], ["张三"]], ids=["at-name", "at-city"])
def test_an_escape_word_leaves_the_flow_at_any_step(wx, redis, word, answers):
    """STYLE.md 7.3: "取消"/"退出" end the flow with a clear reply; the next text routes normally."""
    wx.text("报名")
    for answer in answers:
        wx.text(answer)
    assert wx.text(f" {word} ") == LEFT
    assert conversation(redis, wx) is None
    assert wx.text("张三") == FALLBACK


def test_a_menu_click_ends_the_flow_and_is_answered_by_its_own_handler(wx, redis):
    """STYLE.md 7.3: any menu click leaves the flow, then routes, so the menu always works."""
    wx.text("报名")
    wx.text("张三")
    assert wx.click("活动") == "本周活动：周六徒步"
    assert conversation(redis, wx) is None
    wx.text("报名")
    assert wx.click("NOT_BUILT_YET") == UNKNOWN_MENU
    assert conversation(redis, wx) is None


def test_an_event_that_is_not_an_answer_leaves_the_step_alone(wx, redis):
    """§3.3: a reported LOCATION arrives on its own while a step waits; it is not the answer."""
    wx.text("报名")
    reply = wx.event("LOCATION", extra={"Latitude": "31.2", "Longitude": "121.5", "Precision": "30"})
    assert (reply.status, reply.body) == (200, b"success")
    assert conversation(redis, wx) == {"state": NAME, "data": {}}
    assert wx.text("张三") == ASK_CITY


def test_unfollowing_mid_flow_marks_the_fan_gone_and_ends_the_flow(app, wx, redis, clock):
    """§3.3: unsubscribe gets no reply; the fan is kept as unfollowed and the flow ends."""
    wx.follow()
    clock.advance(seconds=1)
    wx.text("报名")
    reply = wx.event("unsubscribe")
    assert (reply.status, reply.body) == (200, b"success")
    assert conversation(redis, wx) is None
    with app.extensions["db"]() as session:
        assert session.scalar(select(Fan.following).where(Fan.openid == wx.openid)) is False


def test_an_expired_conversation_lets_the_next_text_route_normally(wx, redis):
    """STYLE.md 7.3: the conversation key's TTL is the flow's timeout; after it the flow is gone."""
    wx.text("报名")
    key = keys.conversation(wx.account.slug, wx.openid)
    assert keys.CONVERSATION_TTL - 5 <= redis.ttl(key) <= keys.CONVERSATION_TTL
    redis.expire(key, 0)                 # Redis time passes; the FrozenClock does not move it
    assert wx.text("张三") == FALLBACK
    assert conversation(redis, wx) is None


@pytest.mark.parametrize("stored", [
    json.dumps({"state": "retired:step", "data": {"x": 1}, "v": 1}),
    "{not json",
    json.dumps(["signup:name"]),
], ids=["undeclared-state", "not-json", "not-an-object"])
def test_an_unreadable_stored_conversation_is_cleared_not_a_trap(wx, redis, stored):
    """STYLE.md 7.14: a state from an older release (or garbage) ends the flow; the push routes."""
    redis.set(keys.conversation(wx.account.slug, wx.openid), stored, ex=keys.CONVERSATION_TTL)
    reply = wx.send("text", {"Content": "帮助"})
    assert (reply.status, reply.content) == (200, HELP)
    assert conversation(redis, wx) is None
    assert wx.text("报名") == ASK_NAME


def test_a_step_moving_to_an_undeclared_state_apologises_and_keeps_the_old_state(app, wx, redis):
    """STYLE.md 7.3: with STRICT_STATES an undeclared state fails loudly; the fan keeps their place."""
    wx.text("报名")
    wx.text("张三")
    assert wx.text("火星") == pipeline.APOLOGY
    assert conversation(redis, wx) == {"state": CITY, "data": {"name": "张三"}}
    with app.extensions["db"]() as session:
        assert session.scalars(select(Event.outcome).order_by(Event.id)).all()[-1] == "error"
    assert wx.text("上海") == "张三，上海，报名成功"


def test_a_step_that_raises_undoes_everything_it_did(app, wx, redis, jobs, clock):
    """DESIGN.md step 5: roll back, keep the old state, drop the jobs, record the failure, apologise."""
    wx.follow()
    jobs.run_all()                          # the follow's tag job (issue #5)
    clock.advance(seconds=1)
    wx.text("报名")
    wx.text("张三")
    before = conversation(redis, wx)
    assert wx.text("爆炸") == pipeline.APOLOGY
    assert conversation(redis, wx) == before
    assert jobs.queued() == []
    assert count(app, KeywordReply) == 0 and count(app, OutboundMessage) == 0
    with app.extensions["db"]() as session:
        assert session.scalar(select(Fan.follow_count).where(Fan.openid == wx.openid)) == 1
        last = session.scalars(select(Event).order_by(Event.id.desc())).first()
    assert (last.type, last.data, last.outcome) == ("text", {"Content": "爆炸"}, "error")
    assert wx.text("上海") == "张三，上海，报名成功"


@pytest.mark.parametrize("said, answer", [
    ("顺序", "第一个"),          # first router, first handler
    ("让过", "第二个"),          # PASS lets the next router answer
    ("帮助", HELP),
    ("随便说说", FALLBACK),      # the keyword router passes, the common fallback answers
])
def test_routers_are_tried_in_order_and_the_first_answer_wins(wx, said, answer):
    """STYLE.md 7.5: routers in order, first match wins inside a router, PASS declines."""
    assert wx.text(said) == answer


def test_an_unknown_menu_key_still_gets_an_answer(wx):
    """A menu key no feature handles answers UNKNOWN_MENU rather than silence."""
    assert wx.click("NOT_BUILT_YET") == UNKNOWN_MENU
