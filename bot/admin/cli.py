"""`flask --app wsgi admin list|export LISTING --as WHO`: the admin API's listings at the command line.

WHO is an operator's name (`operators add`) or a staff manager's phone; without --as the
machine's operator sees everything. The same scope rule (bot/scope.py) as the API applies.
"""
import csv
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot import scope as scopes
from bot.admin.listings import LISTINGS, BadFilter, page, stream
from bot.commands.columns import table

WHERE_HELP = "A filter, NAME=VALUE (repeatable); each listing's filters: `admin listings`."


@click.group("admin", help="The admin listings in the caller's scope: list, export (CSV).", cls=AppGroup)
def admin_cli():
    pass


def _filters(listing, pairs: tuple[str, ...]) -> dict:
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in listing.filters:
            known = ", ".join(listing.filters) or "none"
            raise click.ClickException(f"--where {pair!r}: {listing.name} filters are {known} (NAME=VALUE)")
        given[name] = value
    return given


def _scope(db, asker: str | None) -> scopes.Scope:
    try:
        return scopes.resolve(db, asker)
    except scopes.NotAllowed as refusal:
        raise click.ClickException(f"not allowed: {refusal}") from None


@admin_cli.command("listings", help="Every listing and its filters.")
def admin_listings():
    for line in table([[name, f"filters: {', '.join(listing.filters) or '-'}"]
                       for name, listing in LISTINGS.items()]):
        click.echo(line)


@admin_cli.command("list", help="One page of a listing, as the caller may see it.")
@click.argument("name", type=click.Choice(list(LISTINGS)))
@click.option("--as", "asker", help="An operator's name or a staff manager's phone.")
@click.option("--where", "pairs", multiple=True, help=WHERE_HELP)
@click.option("--page", "number", default=1, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--per-page", default=50, show_default=True, type=click.IntRange(1, 1000))
def admin_list(name, asker, pairs, number, per_page):
    listing = LISTINGS[name]
    with current_app.extensions["db"]() as db:
        scope = _scope(db, asker)
        try:
            result = page(db, listing, scope, _filters(listing, pairs), number, per_page)
        except BadFilter as bad:
            raise click.ClickException(str(bad)) from None
    click.echo(f"{name}: {result.total:,} in {scope.who}'s scope; page {number} "
               f"({len(result.items)} shown)")
    for item in result.items:
        click.echo("  ".join(f"{k}={'' if v is None else v}" for k, v in item.items()))


@admin_cli.command("export", help="Every row of a listing as CSV, streamed (to --out, or standard output).")
@click.argument("name", type=click.Choice(list(LISTINGS)))
@click.option("--as", "asker", help="An operator's name or a staff manager's phone.")
@click.option("--where", "pairs", multiple=True, help=WHERE_HELP)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="The CSV file (default: stdout).")
def admin_export(name, asker, pairs, out):
    listing = LISTINGS[name]
    with current_app.extensions["db"]() as db:
        scope = _scope(db, asker)
        given = _filters(listing, pairs)
        try:
            listing.query(scope, given)
        except BadFilter as bad:
            raise click.ClickException(str(bad)) from None
        target = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
        try:
            written = export_csv(db, listing, scope, given, target)
        finally:
            if out:
                target.close()
    if out:
        click.echo(f"{written:,} {name} rows written to {out}")


def export_csv(db, listing, scope, given: dict, target) -> int:
    writer = csv.writer(target)
    writer.writerow(listing.columns)
    written = 0
    for row in stream(db, listing, scope, given):
        writer.writerow(listing.cells(row))
        written += 1
    return written
