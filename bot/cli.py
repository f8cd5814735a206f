"""Operator commands: `flask --app wsgi db|accounts|keywords|demo|sandbox ...` (DESIGN.md)."""
import re
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bot.directory import forget
from bot.protocol import clean_text
from bot.points.policy import load
from bot.points.rules_file import EXAMPLE_RULES, parse
from models import Account, KeywordReply, PointsPolicy
from models.account import SERVICE, SUBSCRIPTION
from models.keyword import CONTAINS, EXACT
from models.migrate import upgrade

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
APPID = re.compile(r"^wx[0-9A-Za-z]{16}$")
TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")          # the console's Token rule (§1.1)
AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")          # EncodingAESKey: 43 chars (§1.1)


def _check(pattern: re.Pattern, what: str):
    def callback(_ctx, _param, value):
        if value is not None and not pattern.match(value):
            raise click.BadParameter(f"not a valid {what}")
        return value
    return callback


def mask(secret: str | None) -> str:
    """Enough to tell two secrets apart, never enough to use one; short ones not at all."""
    if not secret:
        return ""
    return "****" if len(secret) < 12 else secret[:2] + "****" + secret[-2:]


def session():
    return current_app.extensions["db"]()


def mirror_to_sandbox(account: Account) -> None:
    """In sandbox mode the fake WeChat must know the account, as the real one would."""
    if current_app.config["SANDBOX"]:
        from bot.sandbox.state import SandboxWeChat
        ext = current_app.extensions
        SandboxWeChat(ext["redis"], ext["clock"]).register_account(
            account.appid, account.secret, account.type, account.verified, account.original_id or "")


def mirror_all_to_sandbox(app: Flask) -> None:
    """At start: the sandbox's WeChat knows every account (an in-process Redis starts empty)."""
    from sqlalchemy.exc import DatabaseError
    with app.app_context():
        try:
            with session() as db:
                accounts = db.scalars(select(Account)).all()
        except DatabaseError:   # no schema yet: `db upgrade` has not run
            return
        for account in accounts:
            mirror_to_sandbox(account)


def register_commands(app: Flask) -> None:
    from bot.org.cli import members_cli, staff_cli, stores_cli
    from bot.points.cli import integrations_cli, points_cli
    from bot.sandbox.chat import sandbox_cli
    from bot.unbind import members_unbind
    from bot.qr.cli import qr_cli
    from bot.cs.cli import cs_cli
    from bot.tags_cli import tags_cli
    from bot.qr.move import fans_cli
    from menus.push import menus_cli
    members_cli.add_command(members_unbind)
    from bot.cs.canned import canned_cli
    cs_cli.add_command(canned_cli)            # cs canned add|list (快捷 N)
    from bot.qr.stats_cli import qr_stats
    qr_cli.add_command(qr_stats)
    for group in (db_cli, accounts_cli, keywords_cli, sandbox_cli, points_cli, integrations_cli,
                  stores_cli, staff_cli, members_cli, menus_cli, qr_cli, fans_cli, tags_cli, cs_cli):
        app.cli.add_command(group)
    app.cli.add_command(demo)
    from bot.serve import serve
    app.cli.add_command(serve)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _ask_secret(slug: str) -> str:
    """The AppSecret of a new account, asked for without echo; without a terminal, say how."""
    if not stdin_is_terminal():
        raise click.UsageError(f"account {slug} is new: give --secret (the AppSecret from the WeChat "
                               "console's 开发 › 基本配置)")
    return click.prompt("AppSecret", hide_input=True)


@click.group("db", help="Database schema.", cls=AppGroup)
def db_cli():
    pass


@db_cli.command("upgrade", help="Apply every migration (creates the schema on a new database).")
def db_upgrade():
    upgrade(current_app.extensions["engine"])
    click.echo("database is at the latest revision")


@click.group("accounts", help="The official accounts this deployment serves.", cls=AppGroup)
def accounts_cli():
    pass


@accounts_cli.command("add")
@click.argument("slug", callback=_check(SLUG, "slug (a-z, 0-9, -; up to 32)"))
@click.option("--type", "type_", type=click.Choice([SERVICE, SUBSCRIPTION]), required=True)
@click.option("--appid", required=True, callback=_check(APPID, "AppID (wx + 16 characters)"))
@click.option("--secret", help="The AppSecret (asked for, unshown, in a terminal; an update keeps it if left out).")
@click.option("--token", required=True, callback=_check(TOKEN, "token (3-32 letters or digits)"))
@click.option("--aes-key", callback=_check(AES_KEY, "EncodingAESKey (43 letters or digits)"))
@click.option("--original-id", help="gh_... (the ToUserName of pushes)")
@click.option("--name", help="Display name.")
@click.option("--welcome", help="Welcome text for new followers.")
@click.option("--notice-template", help="Template id of the 'new messages' notice (§4.8).")
@click.option("--verified/--unverified", default=None,
              help="Verified by WeChat or not (§5.1: fewer interfaces); new accounts: verified.")
def accounts_add(slug, type_, appid, secret, token, aes_key, original_id, name, welcome, notice_template,
                 verified):
    """Add an account, or update the one with this slug: options left out keep their value, and
    rotating the AES key keeps the old one for pushes in flight."""
    with session() as db, db.begin():
        account = db.scalar(select(Account).where(Account.slug == slug))
        owner = db.scalar(select(Account).where(Account.appid == appid))
        if owner is not None and owner is not account:
            raise click.ClickException(f"AppID {appid} already belongs to account {owner.slug}")
        if secret is None and account is not None:
            secret = account.secret
        if secret is None:
            secret = _ask_secret(slug)
        if account is None:
            account = Account(slug=slug, appid=appid, name="", welcome_text="")
            db.add(account)
        elif aes_key and account.aes_key and aes_key != account.aes_key:
            account.previous_aes_key = account.aes_key   # pushes in flight still decrypt (§1.7)
        account.appid, account.type = appid, type_
        if verified is not None or account.verified is None:
            account.verified = True if verified is None else verified
        account.secret, account.token = secret, token
        account.aes_key = aes_key or account.aes_key
        for field, value in (("original_id", original_id), ("name", name), ("welcome_text", welcome),
                             ("notice_template_id", notice_template)):
            if value is not None:
                setattr(account, field, value)
    forget(current_app.extensions["redis"], slug)
    mirror_to_sandbox(account)
    click.echo(f"account {slug} saved: {type_}{'' if account.verified else ', unverified'}, appid {appid}, "
               f"secret {mask(secret)}")


@accounts_cli.command("list")
def accounts_list():
    """Every account, secrets masked."""
    with session() as db:
        rows = db.scalars(select(Account).order_by(Account.slug)).all()
    if not rows:
        click.echo("no accounts yet: flask --app wsgi accounts add --help")
    for a in rows:
        click.echo(f"{a.slug:<16} {a.type:<12} {'verified' if a.verified else 'unverified':<10} "
                   f"{a.appid}  secret={mask(a.secret)} token={mask(a.token)} "
                   f"aes={'set' if a.aes_key else 'none'}  /wechat/{a.slug}")


@accounts_cli.command("remove")
@click.argument("slug")
@click.confirmation_option(prompt="Remove the account and all its fans, events and replies?")
def accounts_remove(slug):
    with session() as db, db.begin():
        db.delete(account_or_fail(db, slug))
    forget(current_app.extensions["redis"], slug)
    click.echo(f"account {slug} removed")


def account_or_fail(db, slug: str) -> Account:
    """The account `slug`, or the CLI's one-line error (every command that takes --account)."""
    account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise click.ClickException(f"no account {slug}")
    return account


@click.group("keywords", help="Keyword auto-replies per account.", cls=AppGroup)
def keywords_cli():
    pass


@keywords_cli.command("add")
@click.option("--account", "slug", required=True)
@click.option("--match", type=click.Choice([EXACT, CONTAINS]), default=EXACT)
@click.argument("keyword")
@click.argument("reply")
def keywords_add(slug, match, keyword, reply):
    """Answer REPLY to texts equal to (or containing) KEYWORD; adding it again replaces the reply."""
    keyword, reply = clean_text(keyword).strip(), clean_text(reply)   # no control characters (§7.6)
    if not keyword or len(keyword) > 64:
        raise click.BadParameter("keyword must be 1-64 characters", param_hint="KEYWORD")
    if not reply.strip():
        raise click.BadParameter("reply must not be empty", param_hint="REPLY")
    with session() as db, db.begin():
        account = account_or_fail(db, slug)
        row = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                   KeywordReply.keyword == keyword, KeywordReply.match == match))
        if row is None:
            db.add(KeywordReply(account_id=account.id, keyword=keyword, match=match, reply=reply))
        else:
            row.reply = reply
    click.echo(f"{slug}: {match} “{keyword}” saved")


@keywords_cli.command("list")
@click.option("--account", "slug", required=True)
def keywords_list(slug):
    with session() as db:
        account = account_or_fail(db, slug)
        rows = db.scalars(select(KeywordReply).where(KeywordReply.account_id == account.id)
                          .order_by(KeywordReply.match, KeywordReply.keyword)).all()
    for row in rows:
        click.echo(f"{row.match:<8} {row.keyword:<16} → {row.reply[:60]}")


@keywords_cli.command("remove")
@click.option("--account", "slug", required=True)
@click.option("--match", type=click.Choice([EXACT, CONTAINS]), default=EXACT)
@click.argument("keyword")
def keywords_remove(slug, match, keyword):
    with session() as db, db.begin():
        account = account_or_fail(db, slug)
        row = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                   KeywordReply.keyword == keyword, KeywordReply.match == match))
        if row is None:
            raise click.ClickException(f"no {match} keyword “{keyword}” on {slug}")
        db.delete(row)
    click.echo(f"{slug}: {match} “{keyword}” removed")


DEMO = dict(slug="demo", type=SERVICE, verified=True, appid="wxdemo000000000001", secret="demo-secret",
            token="demotoken", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            original_id="gh_demo00000001", name="旅游集团服务号（演示）", notice_template_id="TPL_NEW_MESSAGES",
            welcome_text="欢迎关注旅游集团！点击下方菜单开始使用，回复“帮助”看看我能做什么。")
DEMO_KEYWORDS = [("营业时间", EXACT, "门店营业时间：每天 9:00-21:00。"),
                 ("地址", CONTAINS, "总部地址：上海市黄浦区示例路 1 号。")]


# The README's "Try it": a store whose code a fan scans, and an agent on its roster who binds
# 13900000001 in a sandbox phone and answers the fans who ask for a person.
DEMO_STORE = dict(code="S1", name="西湖门店")
DEMO_AGENT = dict(phone="13900000001", name="小王", roles="agent", capacity=3, default_agent=True)


def _demo_store_and_agent(db) -> None:
    from models.org import Company, Staff, Store
    if db.scalar(select(Store.id).where(Store.code == DEMO_STORE["code"])) is not None:
        return
    company = db.scalar(select(Company).where(Company.code == "DEMO"))
    if company is None:
        company = Company(code="DEMO", name="旅游集团（演示）")
        db.add(company)
        db.flush()
    store = Store(company_id=company.id, **DEMO_STORE)
    db.add(store)
    db.flush()
    if db.scalar(select(Staff.id).where(Staff.phone == DEMO_AGENT["phone"])) is None:
        db.add(Staff(store_id=store.id, **DEMO_AGENT))


@click.command("demo", help="Create (or refresh) the demo service account `demo` and its demo data.")
@with_appcontext
def demo():
    with session() as db, db.begin():
        account = db.scalar(select(Account).where(Account.slug == DEMO["slug"]))
        if account is None:
            account = Account(**DEMO)
            db.add(account)
            db.flush()
        for keyword, match, reply in DEMO_KEYWORDS:
            exists = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                          KeywordReply.keyword == keyword))
            if exists is None:
                db.add(KeywordReply(account_id=account.id, keyword=keyword, match=match, reply=reply))
        _demo_store_and_agent(db)
        if db.scalar(select(PointsPolicy.id).limit(1)) is None:     # never over an operator's rules
            load(db, parse(EXAMPLE_RULES.read_text(encoding="utf-8")))
    forget(current_app.extensions["redis"], account.slug)
    mirror_to_sandbox(account)
    click.echo("demo account ready: /wechat/demo (token demotoken); try: "
               "flask --app wsgi sandbox chat --account demo --as alice")
