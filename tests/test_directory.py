"""The account directory: one lookup per minute per account, changes through the CLI seen at once."""
from handlers.subscribe import BIND_OFFER, WELCOME_BACK
from sqlalchemy import select, update

from bot import keys
from bot.directory import local_account
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


def copy_of(row: Account) -> Account:
    """A phone's own copy of the account (the session's row follows the database)."""
    return Account(**{c.key: getattr(row, c.key) for c in Account.__table__.columns})


def changed_elsewhere(app, db, slug: str, **values) -> Account:
    """An operator changes the account in another process (`accounts add` there): the row and
    Redis's copy change, and this process's own copy is left as it was."""
    db.execute(update(Account).where(Account.slug == slug).values(**values))
    db.commit()
    app.extensions["redis"].delete(keys.account(slug))
    return copy_of(db.scalar(select(Account).where(Account.slug == slug)))


def test_a_token_changed_by_another_process_is_checked_with_the_new_one_at_once(app, db, phone, account, clock):
    alice = phone("alice", account=copy_of(account))
    assert alice.text("一")                                   # this process keeps a copy of hq now
    assert local_account("hq") is not None
    renewed = changed_elsewhere(app, db, "hq", token="renewedtoken")
    clock.advance(seconds=1)
    assert alice.text("二") is None                           # the old token, which the copy still has,
    assert alice.last.status == 403                          # is refused: the script saw the copy stale
    clock.advance(seconds=1)
    assert "没太明白" in phone("alice", account=renewed).text("三")
    db.rollback()
    contents = [e.data.get("Content") for e in db.scalars(select(Event).order_by(Event.id))]
    assert contents == ["一", "三"]                           # the refused try claimed nothing


def test_an_aes_key_changed_elsewhere_decrypts_the_next_push(app, db, phone, account, clock):
    assert phone("bob", mode="safe").text("一")
    renewed = changed_elsewhere(app, db, "hq", aes_key="Z" * 43)
    clock.advance(seconds=1)
    assert "没太明白" in phone("bob", mode="safe", account=renewed).text("二")


def test_a_copy_older_than_redis_s_minute_is_read_again_and_the_push_runs_once(app, db, wx, clock, monkeypatch):
    assert wx.text("一")
    app.extensions["redis"].delete(keys.account("hq"))      # Redis's copy expired (ACCOUNT_TTL)
    clock.advance(seconds=1)
    assert wx.text("二")
    assert local_account("hq")[1] == app.extensions["redis"].get(keys.account("hq")).decode()
    db.rollback()
    assert len(db.scalars(select(Event)).all()) == 2
