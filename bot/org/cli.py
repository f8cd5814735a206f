"""`flask --app wsgi stores …`, `staff …` and `members …`: the organisation from CSV files."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from bot.commands.columns import table
from bot.org.legacy import import_members
from bot.org.roster import import_staff, import_stores
from bot.phones import mask_phone
from models import Company, Staff, Store

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
SKIP_BAD = click.option("--skip-bad", is_flag=True, help="Import the valid rows even if some are bad.")


@click.group("stores", help="Companies and their stores.", cls=AppGroup)
def stores_cli():
    pass


@stores_cli.command("import", help="Add or update stores from a CSV: code,name,company[,company_name].")
@click.argument("path", type=FILE)
@SKIP_BAD
def stores_import(path: Path, skip_bad: bool):
    import_stores(current_app, path, skip_bad)


@stores_cli.command("list", help="Every store with its company and active staff.")
def stores_list():
    with current_app.extensions["db"]() as db:
        staff = dict(db.execute(select(Staff.store_id, func.count()).where(Staff.active)
                                .group_by(Staff.store_id)).all())
        rows = db.execute(select(Store, Company).join(Company, Store.company_id == Company.id)
                          .order_by(Company.code, Store.code)).all()
    if not rows:
        click.echo("no stores yet: flask --app wsgi stores import FILE.csv")
    for line in table([[store.code, store.name, f"company {company.code} ({company.name}), "
                        f"{staff.get(store.id, 0)} active staff"] for store, company in rows]):
        click.echo(line)


@click.group("staff", help="The staff roster.", cls=AppGroup)
def staff_cli():
    pass


@staff_cli.command("import", help="Add or update staff from a CSV: "
                                  "phone,name,store,roles[,capacity,default_agent,active].")
@click.argument("path", type=FILE)
@click.option("--prune", is_flag=True, help="Deactivate active staff missing from the file.")
@SKIP_BAD
def staff_import(path: Path, prune: bool, skip_bad: bool):
    import_staff(current_app, path, prune, skip_bad)


@staff_cli.command("list", help="The roster, phones masked.")
@click.option("--store", "store_code", default=None, help="Only this store's staff (by store code).")
def staff_list(store_code: str | None):
    with current_app.extensions["db"]() as db:
        query = (select(Staff, Store.code).join(Store, Staff.store_id == Store.id)
                 .order_by(Store.code, Staff.active.desc(), Staff.name, Staff.id))
        if store_code is not None:
            if db.scalar(select(Store.id).where(Store.code == store_code)) is None:
                raise click.ClickException(f"no store {store_code}")
            query = query.where(Store.code == store_code)
        rows = db.execute(query).all()
    if not rows:
        click.echo("no staff yet: flask --app wsgi staff import roster.csv")
    for line in table([[mask_phone(person.phone), person.name, code, person.roles or "-",
                        f"capacity {person.capacity}",
                        f"{'default ' if person.default_agent else ''}{'active' if person.active else 'inactive'}"
                        f"{', bound' if person.member_id is not None else ''}"] for person, code in rows]):
        click.echo(line)


@click.group("members", help="Members brought in from the old CRM.", cls=AppGroup)
def members_cli():
    pass


@members_cli.command("import", help="Create members from the old CRM: phone,name,birthday,points,level "
                                    "(points as an opening entry, the level kept).")
@click.argument("path", type=FILE)
@SKIP_BAD
def members_import(path: Path, skip_bad: bool):
    import_members(current_app, path, skip_bad)
