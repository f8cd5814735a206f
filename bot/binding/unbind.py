"""`flask --app wsgi members unbind PHONE --account SLUG`: the operator's way to free a phone held
by a fan of an account (its owner lost that WeChat). The member keeps points and history; the
next fan to bind the phone on that account is linked to the same member."""
import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from bot.binding.roles import FAN_ROLE, set_role
from bot.jobs import committed
from bot.phones import mask_phone, normalize
from models import Account, Fan, Member


@click.command("unbind", help="Free a phone bound to a fan of one account (points stay with the member).")
@click.argument("phone")
@click.option("--account", "slug", required=True)
@with_appcontext
def members_unbind(phone: str, slug: str):
    number = normalize(phone)
    if number is None:
        raise click.BadParameter("not a mainland mobile number", param_hint="PHONE")
    with committed(current_app) as (db, buffer):
        fan = db.scalar(select(Fan).join(Member, Fan.member_id == Member.id).join(Account, Fan.account_id == Account.id)
                        .where(Member.phone == number, Account.slug == slug))
        if fan is None:
            raise click.ClickException(f"{mask_phone(number)} is not bound on {slug}")
        fan.member_id = None
        set_role(fan, FAN_ROLE, buffer)
    click.echo(f"{mask_phone(number)} unbound from its fan on {slug}; the member keeps points and history")
