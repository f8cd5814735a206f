"""The account directory: one lookup per minute per account, changes through the CLI seen at once."""
from handlers.subscribe import BIND_OFFER, WELCOME_BACK
from sqlalchemy import select

from bot import keys
from models import Account, Event
from tests.conftest import WELCOME


def test_a_cli_change_is_seen_by_the_next_push(app, wx, account, clock):
    assert wx.follow() == WELCOME
    assert app.extensions["redis"].ttl(keys.account("hq")) <= keys.ACCOUNT_TTL
    result = app.test_cli_runner().invoke(args=[
        "accounts", "add", "hq", "--type", "service", "--appid", account.appid, "--secret", "s",
        "--token", account.token, "--welcome", "新的欢迎语"])
    assert result.exit_code == 0, result.output
    clock.advance(seconds=1)      # a new push, not WeChat's retry of the first
    assert wx.follow() == f"{WELCOME_BACK}新的欢迎语\n\n{BIND_OFFER}"     # followed before: a re-follow


def test_pushes_do_not_query_the_account_while_it_is_cached(app, wx, account, monkeypatch):
    wx.text("一")
    monkeypatch.setattr("bot.directory.select", lambda *a: (_ for _ in ()).throw(AssertionError("queried")))
    assert wx.text("二")


def test_an_unknown_slug_is_remembered_and_forgotten_when_added(app, phone, account, make_account):
    client = app.test_client()
    assert client.get("/wechat/sub").status_code == 404
    assert app.extensions["redis"].get(keys.account("sub")) == b"{}"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "add", "sub", "--type", "subscription", "--appid",
                                 "wx00000000000000c3", "--secret", "s", "--token", "subtoken"])
    assert result.exit_code == 0, result.output
    with app.extensions["db"]() as db:
        sub = db.scalar(select(Account).where(Account.slug == "sub"))
    assert "没太明白" in phone("carol", account=sub).text("你好")


def test_a_msgid_beyond_64_bits_is_kept_as_data(app, wx):
    """Not a MsgId WeChat sends, but a push with one is still handled and recorded."""
    assert "没太明白" in wx.send("text", {"Content": "你好"}, msg_id=2**64 + 5).content
    with app.extensions["db"]() as db:
        event = db.scalars(select(Event)).one()
    assert (event.msg_id, event.data["MsgId"], event.outcome) == (None, str(2**64 + 5), "ok")
