"""What every operator command shares: the session, masking, argument checks, the account lookup."""
import re

import click
from flask import Flask, current_app
from sqlalchemy import select

from models import Account

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


def account_or_fail(db, slug: str) -> Account:
    """The account `slug`, or the CLI's one-line error (every command that takes --account)."""
    account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise click.ClickException(f"no account {slug}")
    return account
