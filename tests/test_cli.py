"""Operator commands: accounts and keywords, validated, secrets masked, nothing half-written."""
import pytest
from sqlalchemy import select

from models import Account, KeywordReply

AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NEW_AES = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlk0"
GOOD = ["accounts", "add", "sub1", "--type", "subscription", "--appid", "wx00000000000000a1",
        "--secret", "s3cr3t-value-xyz", "--token", "tok123", "--original-id", "gh_sub1"]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(args=list(args), input=input)
    return run


def account(db, slug):
    db.rollback()   # a fresh snapshot: see what the command committed
    return db.scalar(select(Account).where(Account.slug == slug))


def test_add_list_and_remove_an_account(cli, db, world):
    """Added accounts are listed with masked secrets, known to the sandbox, and removable."""
    result = cli(*GOOD, "--welcome", "欢迎！", "--unverified")
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value-xyz" not in result.output and "s3****yz" in result.output
    saved = account(db, "sub1")
    assert (saved.type, saved.verified, saved.welcome_text) == ("subscription", False, "欢迎！")
    listing = cli("accounts", "list").output
    assert "sub1" in listing and "unverified" in listing and "/wechat/sub1" in listing
    assert "s3cr3t-value-xyz" not in listing and "tok123" not in listing
    assert cli("accounts", "remove", "sub1", "--yes").exit_code == 0
    assert account(db, "sub1") is None
    assert "no account sub1" in cli("accounts", "remove", "sub1", "--yes").output


@pytest.mark.parametrize("option, value, message", [
    (2, "Bad_Slug", "not a valid slug"),
    (6, "wx123", "not a valid AppID"),
    (10, "to", "not a valid token"),
])
def test_invalid_values_are_refused_and_nothing_is_saved(cli, db, option, value, message):
    """A bad slug, AppID or token names the problem and writes nothing."""
    args = list(GOOD)
    args[option] = value
    result = cli(*args)
    assert result.exit_code != 0 and message in result.output
    db.rollback()   # a fresh snapshot: see what the command committed
    assert db.scalars(select(Account)).all() == []


def test_bad_aes_key_is_refused(cli, db):
    result = cli(*GOOD, "--aes-key", "tooshort")
    assert result.exit_code != 0 and "EncodingAESKey" in result.output
    assert account(db, "sub1") is None


def test_an_appid_belongs_to_one_account(cli):
    """Two slugs for one AppID would split its fans: refused."""
    assert cli(*GOOD).exit_code == 0
    other = ["accounts", "add", "sub2", *GOOD[3:]]
    result = cli(*other)
    assert result.exit_code != 0 and "already belongs to account sub1" in result.output


def test_updating_keeps_what_is_not_given_and_the_previous_aes_key(cli, db):
    """Rotating the AES key keeps the old one (pushes in flight still open, §1.7)."""
    assert cli(*GOOD, "--aes-key", AES, "--welcome", "你好", "--notice-template", "TPL1").exit_code == 0
    assert cli(*GOOD, "--aes-key", NEW_AES).exit_code == 0
    saved = account(db, "sub1")
    assert (saved.aes_key, saved.previous_aes_key) == (NEW_AES, AES)
    assert (saved.welcome_text, saved.notice_template_id) == ("你好", "TPL1")


def test_a_missing_secret_without_a_terminal_says_what_to_give(cli, db):
    args = [a for a in GOOD if a not in ("--secret", "s3cr3t-value-xyz")]
    result = cli(*args, input="")
    assert result.exit_code == 2
    assert "account sub1 is new: give --secret (the AppSecret" in result.output
    assert "Aborted" not in result.output and account(db, "sub1") is None


def test_secret_is_prompted_hidden_in_a_terminal(cli, db, monkeypatch):
    monkeypatch.setattr("bot.commands.accounts.stdin_is_terminal", lambda: True)
    args = [a for a in GOOD if a not in ("--secret", "s3cr3t-value-xyz")]
    result = cli(*args, input="typed-secret-123\n")
    assert result.exit_code == 0, result.output
    assert "typed-secret-123" not in result.output
    assert account(db, "sub1").secret == "typed-secret-123"


def test_keywords_add_replace_list_remove_and_answer(cli, db, wx, account):
    """Keywords set from the CLI answer in the chat at once."""
    assert cli("keywords", "add", "--account", "hq", "营业时间", "9:00-21:00").exit_code == 0
    assert wx.text("营业时间") == "9:00-21:00"
    assert cli("keywords", "add", "--account", "hq", "营业时间", "每天 9:00-21:00").exit_code == 0
    assert wx.text("营业时间") == "每天 9:00-21:00"
    assert cli("keywords", "add", "--account", "hq", "--match", "contains", "地址", "示例路 1 号").exit_code == 0
    assert wx.text("请问门店地址在哪") == "示例路 1 号"
    listing = cli("keywords", "list", "--account", "hq").output
    assert "营业时间" in listing and "地址" in listing
    db.rollback()   # a fresh snapshot: see what the command committed
    assert len(db.scalars(select(KeywordReply)).all()) == 2
    assert cli("keywords", "remove", "--account", "hq", "营业时间").exit_code == 0
    assert "没太明白" in wx.text("营业时间")
    assert "no exact keyword" in cli("keywords", "remove", "--account", "hq", "营业时间").output


@pytest.mark.parametrize("args, message", [
    (["--account", "hq", "  ", "答复"], "keyword must be 1-64 characters"),
    (["--account", "hq", "x" * 65, "答复"], "keyword must be 1-64 characters"),
    (["--account", "hq", "营业", " "], "reply must not be empty"),
    (["--account", "nope", "营业", "答复"], "no account nope"),
])
def test_bad_keywords_are_refused(cli, db, account, args, message):
    result = cli("keywords", "add", *args)
    assert result.exit_code != 0 and message in result.output
    db.rollback()   # a fresh snapshot: see what the command committed
    assert db.scalars(select(KeywordReply)).all() == []


def test_demo_is_idempotent_and_answers(cli, app, db, phone, world):
    """`make run` runs `demo` on every start: the second run changes nothing."""
    assert cli("demo").exit_code == 0
    assert cli("demo").exit_code == 0
    db.rollback()   # a fresh snapshot: see what the command committed
    demo = account(db, "demo")
    assert len(db.scalars(select(KeywordReply).where(KeywordReply.account_id == demo.id)).all()) == 2
    alice = phone("alice", mode="safe", account=demo)
    assert "欢迎关注旅游集团" in alice.follow()
    assert "9:00-21:00" in alice.text("营业时间")


def test_an_update_keeps_verification_unless_told(cli, db):
    """Rotating the key of an unverified account must not make it 'verified' (§5.1)."""
    assert cli(*GOOD, "--unverified").exit_code == 0
    assert cli(*GOOD, "--aes-key", AES).exit_code == 0
    assert account(db, "sub1").verified is False
    assert cli(*GOOD, "--verified").exit_code == 0
    assert account(db, "sub1").verified is True


def test_short_secrets_are_masked_entirely(cli):
    args = [a if a != "s3cr3t-value-xyz" else "short" for a in GOOD]
    assert cli(*args).exit_code == 0
    listing = cli("accounts", "list").output
    assert "short" not in listing and "secret=****" in listing


def test_the_readmes_account_example_works_as_written(cli, db):
    import re
    import shlex
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    line = re.search(r"flask --app wsgi (accounts add sub-sh .*?)\n(?!\s)", readme.replace("\\\n", " "))
    result = cli(*shlex.split(line.group(1)), input="")
    assert result.exit_code == 0, result.output
    assert account(db, "sub-sh").type == "subscription" and account(db, "sub-sh").verified is False
    # Updating it without --secret keeps the secret.
    result = cli("accounts", "add", "sub-sh", "--type", "subscription", "--appid", "wx1234567890abcdef",
                 "--token", "subshtoken2", input="")
    assert result.exit_code == 0, result.output
    assert account(db, "sub-sh").secret == "0123456789abcdef0123456789abcdef"
