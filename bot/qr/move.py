"""`flask --app wsgi fans show|move`: an operator looks at a fan's attribution and moves the fan.

Attribution is first touch: no scan moves it. When a fan really belongs elsewhere
(a store closed, a staff member left, a mistake), the operator moves them: the fan's store and
staff change, and so does the member's home store if it was the old one. What was counted stays
counted (statistics are history); the fan is no longer credited to the old code, so later
unfollows and conversions count for no code, and customer service routes them to the new store.
"""
import logging

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.jobs import committed
from bot.phones import mask_phone, normalize
from models import Account, Fan, Member, QrCode, Staff, Store

log = logging.getLogger(__name__)


@click.group("fans", help="A fan's attribution (first-touch store, staff and code).", cls=AppGroup)
def fans_cli():
    pass


def find_fan(db, slug: str, openid: str | None, phone: str | None) -> Fan:
    account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise click.ClickException(f"no account {slug!r}")
    if bool(openid) == bool(phone):
        raise click.UsageError("give one of --openid or --phone")
    query = select(Fan).where(Fan.account_id == account.id)
    if phone:
        number = normalize(phone)
        if number is None:
            raise click.BadParameter("not a mainland mobile number", param_hint="--phone")
        query = query.join(Member, Fan.member_id == Member.id).where(Member.phone == number)
    else:
        query = query.where(Fan.openid == openid)
    fan = db.scalar(query)
    if fan is None:
        raise click.ClickException(f"no such fan on {slug}")
    return fan


def describe(db, fan: Fan) -> str:
    store = db.get(Store, fan.store_id) if fan.store_id else None
    staff = db.get(Staff, fan.staff_id) if fan.staff_id else None
    code = db.get(QrCode, fan.source_code_id) if fan.source_code_id else None
    return (f"fan {fan.id}: store {store.code + ' ' + store.name if store else '-'}, "
            f"staff {staff.name + ' ' + mask_phone(staff.phone) if staff else '-'}, "
            f"code {code.scene if code else '-'}, since {fan.attributed_at or '-'}")


@fans_cli.command("show", help="Where a fan is attributed.")
@click.option("--account", "slug", required=True)
@click.option("--openid")
@click.option("--phone")
def fans_show(slug: str, openid: str | None, phone: str | None):
    with committed(current_app) as (db, _):
        click.echo(describe(db, find_fan(db, slug, openid, phone)))


@fans_cli.command("move", help="Attribute a fan to another store (and staff member).")
@click.option("--account", "slug", required=True)
@click.option("--openid")
@click.option("--phone", help="the member's phone, instead of --openid")
@click.option("--store", "store_code", required=True)
@click.option("--staff", "staff_phone", help="a staff member of that store")
@click.option("--by", "actor", required=True, help="who is moving the fan (kept in the log)")
def fans_move(slug: str, openid: str | None, phone: str | None, store_code: str, staff_phone: str | None,
              actor: str):
    with committed(current_app) as (db, _):
        fan = find_fan(db, slug, openid, phone)
        store = db.scalar(select(Store).where(Store.code == store_code))
        if store is None:
            raise click.ClickException(f"no store {store_code!r}")
        staff = None
        if staff_phone:
            staff = db.scalar(select(Staff).where(Staff.phone == normalize(staff_phone), Staff.active))
            if staff is None or staff.store_id != store.id:
                raise click.ClickException(f"{mask_phone(normalize(staff_phone))} is not active staff of {store.code}")
        before = describe(db, fan)
        old_store = fan.store_id
        fan.store_id, fan.staff_id, fan.source_code_id = store.id, staff.id if staff else None, None
        member = db.get(Member, fan.member_id) if fan.member_id else None
        if member is not None and member.home_store_id in (None, old_store):
            member.home_store_id = store.id
        after = describe(db, fan)
    log.info("fan moved by=%s account=%s %s -> %s", actor, slug, before, after)
    click.echo(f"moved: {before}\n   now: {after}")
