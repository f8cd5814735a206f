"""`flask --app wsgi accounts add|list|remove|links`: the official accounts this deployment serves."""
import sys

import click
from flask.cli import AppGroup
from flask import current_app
from sqlalchemy import select

from bot.commands.columns import table
from bot.commands.common import AES_KEY, APPID, SLUG, TOKEN, _check, account_or_fail, mask, mirror_to_sandbox, session
from bot.directory import forget
from bot.linking.report import gathered
from models import Account
from models.account import SERVICE, SUBSCRIPTION


@click.group("accounts", help="The official accounts this deployment serves.", cls=AppGroup)
def accounts_cli():
    pass


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _ask_secret(slug: str) -> str:
    """The AppSecret of a new account, asked for without echo; without a terminal, say how."""
    if not stdin_is_terminal():
        raise click.UsageError(f"account {slug} is new: give --secret (the AppSecret from the WeChat "
                               "console's 开发 › 基本配置)")
    return click.prompt("AppSecret", hide_input=True)


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


@accounts_cli.command("links")
@click.option("--account", "slug", help="One subscription account (slug); default: every one.")
def accounts_links(slug):
    """Per subsidiary: following fans, linked to the service account, members, linked in the last 30 days."""
    now = current_app.extensions["clock"].now()
    with session() as db:
        if slug is not None:
            account = account_or_fail(db, slug)
            if account.type != SUBSCRIPTION:
                raise click.ClickException(f"account {slug} is a {account.type} account: links are counted "
                                           "for subscription accounts (the fans led to the service account)")
        rows = gathered(db, now, slug)
    if not rows:
        click.echo("no subscription accounts: nothing is led to the service account")
        return
    header = ["account", "fans", "linked", "members", "linked 30d"]
    for line in table([header] + [[r.slug, str(r.fans), str(r.linked), str(r.members), str(r.recent)]
                                  for r in rows]):
        click.echo(line)
