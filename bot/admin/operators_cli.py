"""`flask --app wsgi operators add|list|revoke`: who may use the admin API, and how far they see.

A token is printed once, at `add`; only its SHA-256 is stored, so a lost token is replaced by
revoking the operator and adding another.
"""
import re

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot import scope as scopes
from bot.commands.columns import table
from models import Company, Operator, Store
from models.operator import COMPANY, HQ, OPERATOR_ROLES, STORE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@click.group("operators", help="Operators of the admin API: add (prints a token once), list, revoke.",
             cls=AppGroup)
def operators_cli():
    pass


@operators_cli.command("add", help="Add an operator and print their bearer token (shown only now).")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(OPERATOR_ROLES),
              help="hq: everything; company: its stores; store: one store.")
@click.option("--company", "company_code", help="The company (code) of a company admin.")
@click.option("--store", "store_code", help="The store (code) of a store manager.")
def operators_add(name, role, company_code, store_code):
    if not NAME.match(name):
        raise click.ClickException("NAME: 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    db = current_app.extensions["db"]()
    with db, db.begin():
        if db.scalar(select(Operator).where(Operator.name == name)) is not None:
            raise click.ClickException(f"operator {name} exists; revoke it first or choose another name")
        company_id = store_id = None
        if role == COMPANY:
            company = db.scalar(select(Company).where(Company.code == (company_code or "")))
            if company is None:
                raise click.ClickException("a company admin needs --company CODE of an existing company "
                                           "(stores import creates companies)")
            company_id = company.id
        elif role == STORE:
            store = db.scalar(select(Store).where(Store.code == (store_code or "")))
            if store is None:
                raise click.ClickException("a store manager needs --store CODE of an existing store")
            store_id = store.id
        if role == HQ and (company_code or store_code):
            raise click.ClickException("an hq admin sees everything: give no --company or --store")
        token = scopes.new_token()
        db.add(Operator(name=name, role=role, company_id=company_id, store_id=store_id,
                        token_hash=scopes.hash_token(token), created_at=current_app.extensions["clock"].now()))
    click.echo(f"operator {name} ({_reach(role, company_code, store_code)}) added. Their token, shown only now:")
    click.echo(token)


def _reach(role: str, company: str | None, store: str | None) -> str:
    return {HQ: "hq: everything", COMPANY: f"company {company}", STORE: f"store {store}"}[role]


@operators_cli.command("list", help="Operators, their reach and whether they are active.")
def operators_list():
    with current_app.extensions["db"]() as db:
        rows = db.scalars(select(Operator).order_by(Operator.name)).all()
        companies = {c.id: c.code for c in db.scalars(select(Company))}
        stores = {s.id: s.code for s in db.scalars(select(Store))}
        if not rows:
            click.echo("no operators (operators add NAME --role hq|company|store)")
        lines = table([[op.name, _reach(op.role, companies.get(op.company_id), stores.get(op.store_id)),
                        "active" if op.active else f"revoked {op.revoked_at:%Y-%m-%d %H:%M} UTC"]
                       for op in rows])
    for line in lines:
        click.echo(line)


@operators_cli.command("revoke", help="Refuse the operator's token from now on.")
@click.argument("name")
def operators_revoke(name):
    db = current_app.extensions["db"]()
    with db, db.begin():
        op = db.scalar(select(Operator).where(Operator.name == name))
        if op is None:
            raise click.ClickException(f"no operator {name} (operators list shows them)")
        if not op.active:
            click.echo(f"operator {name} was revoked already")
            return
        op.active, op.revoked_at = False, current_app.extensions["clock"].now()
    click.echo(f"operator {name} revoked: their token is refused from now on")
