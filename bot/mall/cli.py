"""`flask --app wsgi mall load|products|orders|ship|cancel`: the operators' side of the mall."""
import csv
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot import points
from bot.jobs import committed
from bot.mall import catalog
from bot.mall.orders import Refused, cancel, ship
from bot.phones import normalize
from models import MallOrder, Product, Staff, Store
from models.org import MANAGER

mall_cli = AppGroup("mall", help="The points mall: products, orders, shipping, cancels.")


@mall_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Validate only; write nothing.")
def load_command(path: Path, check: bool) -> None:
    """Load products.yaml: all or nothing, errors by line."""
    try:
        parsed = catalog.parse(path)
    except catalog.CatalogError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise SystemExit(1)
    if check:
        click.echo(f"{len(parsed['products'])} products OK; nothing written (--check).")
        return
    with committed(current_app) as (db, _jobs):
        counts = catalog.load(db, parsed)
    click.echo(f"{counts['products']} products loaded ({counts['new']} new, "
               f"{counts['codes_added']} virtual codes added); orders kept.")


@mall_cli.command("products")
def products_command() -> None:
    with current_app.extensions["db"]() as db:
        for p in db.scalars(select(Product).order_by(Product.code)):
            shown = [p.code, p.name, p.kind, f"{p.points}分", f"stock {p.stock}", f"sold {p.sold}"]
            click.echo("\t".join(shown + ([] if p.listed else ["unlisted"])))


@mall_cli.command("orders")
@click.option("--status")
@click.option("--store", "store_code", help="Only orders of products scoped to this store (code).")
@click.option("--as", "as_phone", help="Show what this store manager may see (their store's products).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table")
def orders_command(status: str | None, store_code: str | None, as_phone: str | None, fmt: str) -> None:
    """Orders, oldest first. Without --as the server operator sees all; a manager (--as) sees the
    orders of products scoped to their store, as `cs list --as` scopes conversations."""
    with current_app.extensions["db"]() as db:
        scope = _manager_store(db, as_phone) if as_phone else None
        query = select(MallOrder, Product).join(Product, Product.id == MallOrder.product_id).order_by(MallOrder.id)
        if status:
            query = query.where(MallOrder.status == status)
        # Product.stores is a JSON list: filtered here, the same on SQLite and PostgreSQL.
        rows = [(o.id, o.product_name, o.points, o.status, o.tracking or "", o.created_at.isoformat())
                for o, p in db.execute(query)
                if (store_code is None or store_code in (p.stores or []))
                and (scope is None or scope in (p.stores or []))]
    if fmt == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(["order", "product", "points", "status", "tracking", "created_at"])
        out.writerows(rows)
    else:
        for row in rows:
            click.echo("\t".join(str(x) for x in row))


def _manager_store(db, phone: str) -> str:
    """The store code of the active manager with this phone; refuses anyone else."""
    number = normalize(phone)
    staff = db.scalar(select(Staff).where(Staff.phone == number, Staff.active)) if number else None
    if staff is None or MANAGER not in staff.role_list:
        raise click.ClickException("not allowed")
    return db.get(Store, staff.store_id).code


@mall_cli.command("ship")
@click.argument("order_id", type=int)
@click.option("--tracking", required=True)
@click.option("--carrier")
def ship_command(order_id: int, tracking: str, carrier: str | None) -> None:
    """Mark an order shipped; the member is told the tracking number."""
    _run(lambda book: ship(book, order_id, tracking, carrier), f"order {order_id} shipped; member told")


@mall_cli.command("cancel")
@click.argument("order_id", type=int)
@click.option("--reason", required=True)
def cancel_command(order_id: int, reason: str) -> None:
    """Cancel an order: points and stock back once; the member is told."""
    _run(lambda book: cancel(book, order_id, reason), f"order {order_id} cancelled; points back")


def _run(action, done: str) -> None:
    try:
        with points.transaction(current_app) as book:
            action(book)
    except Refused as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1)
    click.echo(done)
