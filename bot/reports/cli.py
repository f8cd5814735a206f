"""`flask --app wsgi reports funnel|points|mall|cs|followers|surveys [--png FILE]`: HQ's reports.

Figures: bot/reports/figures.py; charts: bot/reports/charts.py. Dates are China dates, both
ends included (default: the last 30 days); --png writes the chart beside the table.
"""
from datetime import date, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.commands.columns import table
from bot.commands.common import account_or_fail
from bot.qr.stats import bounds, china_today
from bot.reports import charts, figures
from models import Store

reports_cli = AppGroup("reports", help="Reports: channel funnel, points, mall, customer service, followers, surveys.")


def _window(since: str | None, until: str | None) -> tuple[date, date]:
    today = china_today(current_app.extensions["clock"].now())
    try:
        last = date.fromisoformat(until) if until else today
        first = date.fromisoformat(since) if since else last - timedelta(days=29)
    except ValueError:
        raise click.ClickException("dates are like 2026-11-23 (China dates)") from None
    if first > last:
        raise click.ClickException(f"--since {first} is after --until {last}")
    return first, last


def _period(fn):
    fn = click.option("--since", help="First China date (default: 29 days before --until).")(fn)
    fn = click.option("--until", help="Last China date (default: today).")(fn)
    return click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
                        help="Also write the chart to this PNG file.")(fn)


def _table(header: list[str], rows: list[list]) -> None:
    """The rows under their header, lined up by display width (an empty cell shows as -)."""
    for line in table([header] + [[str(cell) if cell not in (None, "") else "-" for cell in row] for row in rows]):
        click.echo(line)


def _save(png: Path | None, data: bytes) -> None:
    if png is not None:
        png.write_bytes(data)
        click.echo(f"chart written to {png}")


@reports_cli.command("funnel")
@click.option("--by", type=click.Choice(["store", "code"]), default="store", show_default=True)
@click.option("--store", "store_code", help="Only this store (its codes, with --by code).")
@_period
def funnel_command(by, store_code, since, until, png):
    """Scans -> follows -> members -> first purchases, per store or per code."""
    first, last = _window(since, until)
    with current_app.extensions["db"]() as db:
        store_id = None
        if store_code:
            store = db.scalar(select(Store).where(Store.code == store_code))
            if store is None:
                raise click.ClickException(f"no store {store_code}; `stores list` shows them")
            store_id = store.id
        lines = figures.funnel(db, by, *bounds(first, last), store_id=store_id)
    click.echo(f"channel funnel by {by}, {first} to {last}")
    _table(["name", "label", "scans", "follows", "members", "first purchases"],
           [[ln.name, ln.label, ln.scans, ln.follows, ln.members, ln.first_purchases] for ln in lines])
    if not lines:
        click.echo("(nothing in this period)")
    _save(png, charts.funnel_chart(first, last, lines))


def _monthly(title: str, rows: dict[str, dict[str, int]], names: dict[str, str], png) -> None:
    _table(["month", *names], [[month, *(values[k] for k in names)] for month, values in rows.items()])
    if not rows:
        click.echo("(nothing in this period)")
    _save(png, charts.monthly_chart(title, rows, names))


@reports_cli.command("points")
@_period
def points_command(since, until, png):
    """Points issued, spent and expired per China month."""
    first, last = _window(since, until)
    with current_app.extensions["db"]() as db:
        rows = figures.points_by_month(db, *bounds(first, last))
    click.echo(f"points per month, {first} to {last}")
    _monthly(charts.POINTS_TITLE, rows, charts.POINTS_SERIES, png)


@reports_cli.command("mall")
@_period
def mall_command(since, until, png):
    """Mall redemptions (not cancelled) and their points per China month."""
    first, last = _window(since, until)
    with current_app.extensions["db"]() as db:
        rows = figures.mall_by_month(db, *bounds(first, last))
    click.echo(f"mall redemptions per month, {first} to {last}")
    _monthly(charts.MALL_TITLE, rows, charts.MALL_SERIES, png)


@reports_cli.command("cs")
@click.option("--since")
@click.option("--until")
def cs_command(since, until):
    """Customer service: first-response and resolution times (minutes) of conversations opened."""
    first, last = _window(since, until)
    with current_app.extensions["db"]() as db:
        t = figures.cs_times(db, *bounds(first, last))
    click.echo(f"customer service, conversations opened {first} to {last}: {t.opened} opened, "
               f"{t.answered} answered, {t.closed} closed")
    click.echo(f"first response (min): median {t.first_response_median_min} mean {t.first_response_mean_min}")
    click.echo(f"resolution (min): median {t.resolution_median_min} mean {t.resolution_mean_min}")


@reports_cli.command("followers")
@click.option("--account", "slug", required=True)
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path))
def followers_command(slug, days, png):
    """Follows, unfollows and the following count per China day, up to today."""
    today = china_today(current_app.extensions["clock"].now())
    with current_app.extensions["db"]() as db:
        trend = figures.follower_trend(db, account_or_fail(db, slug).id, today, days)
    _table(["day", "follows", "unfollows", "following"], [[d.day, d.follows, d.unfollows, d.following] for d in trend])
    _save(png, charts.followers_chart(slug, trend))


@reports_cli.command("surveys")
@click.option("--since")
@click.option("--until")
def surveys_command(since, until):
    """Survey completion per guide: links sent and responses completed."""
    first, last = _window(since, until)
    with current_app.extensions["db"]() as db:
        rows = figures.survey_completion(db, *bounds(first, last))
    if not rows:
        click.echo("no survey links sent or completed in this period")
        return
    _table(["guide", "sent", "completed"], [list(row) for row in rows])
