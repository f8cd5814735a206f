"""Edges of the request path: nothing a person is owed is dropped, nothing fails as a 500."""
from sqlalchemy import select

from bot import pipeline
from bot.dispatch import Dispatcher, Router
from bot.outbound import CsWindow
from bot.routes import ROUTERS
from models import OutboundMessage


def test_what_a_handler_says_on_a_silent_push_waits_for_the_next_reply(app, wx, db):
    """Nobody sees a reply to an unfollow (§3.3): a message to the sender is kept pending."""
    farewell = Router("farewell")
    farewell.event("unsubscribe")(lambda ctx, msg: ctx.tell(ctx.openid, "期待再见！"))
    app.extensions["dispatcher"] = Dispatcher([farewell, *ROUTERS], strict=True)
    assert wx.unfollow() is None and wx.last.body == b"success"
    rows = db.scalars(select(OutboundMessage)).all()
    assert [(r.content, r.status) for r in rows] == [("期待再见！", "pending")]
    assert wx.follow().startswith("期待再见！")


def test_a_failure_outside_the_handler_is_an_apology_not_a_500(app, wx, monkeypatch):
    """E.g. the database gone while the turn starts: the fan hears something, and so do retries."""
    def broken(*args):
        raise RuntimeError("database went away")
    monkeypatch.setattr(pipeline, "run_turn", broken)
    push = wx.xml({"MsgType": "text", "Content": "你好", "MsgId": 42})
    assert [wx.deliver(push).content for _ in range(2)] == [pipeline.APOLOGY] * 2


def test_a_busy_refusal_gives_the_budget_back(app):
    """-1 means WeChat sent nothing: the message must not count against the window (§4.7)."""
    window = CsWindow(app.extensions["redis"], "hq", "o_bob")
    window.opened_by("click", 1000.0)
    slots = [window.take(1001.0) for _ in range(3)]
    assert slots == ["evt", "evt", "evt"] and window.take(1001.0) is None
    window.give_back("evt")
    assert window.take(1002.0) == "evt"
