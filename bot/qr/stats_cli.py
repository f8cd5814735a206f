"""`flask --app wsgi qr stats`: what each code, staff member or store brought, over a period.

The figures and what they mean: bot/qr/stats.py. Dates are China dates, both ends included.
"""
import csv
import io
import unicodedata
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from bot.phones import mask_phone, normalize
from bot.qr import stats
from models import Account, Staff, Store

COLUMNS = ("scans", "unique", "follows", "refollows", "unfollows", "net", "members")
CSV_COLUMNS = ("scans", "unique_scanners", "new_follows", "refollows", "unfollows", "net_follows", "members")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(f"{option} {value!r} is not a date like 2026-11-23") from None


@click.command("stats", help="Scans, unique scanners, new follows, re-follows, unfollows (of the fans "
                             "each code brought), net follows and members, per code, staff member or "
                             "store, with a totals row. Dates are China dates, both included.")
@click.option("--account", "slug", required=True)
@click.option("--store", "store_code", help="Only this store's codes (store code).")
@click.option("--staff", "staff_phone", help="Only this staff member's codes (phone).")
@click.option("--since", help="First China date, YYYY-MM-DD (default: the beginning).")
@click.option("--until", help="Last China date, YYYY-MM-DD (default: today).")
@click.option("--by", type=click.Choice(stats.GROUPINGS), default="code", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@with_appcontext
def qr_stats(slug, store_code, staff_phone, since, until, by, fmt):
    since_day, until_day = _date(since, "--since"), _date(until, "--until")
    today = stats.china_today(current_app.extensions["clock"].now())
    until_day = until_day or today
    if since_day and since_day > until_day:
        raise click.ClickException(f"--since {since_day} is after --until {until_day}")
    with current_app.extensions["db"]() as db:
        account = db.scalar(select(Account).where(Account.slug == slug))
        if account is None:
            raise click.ClickException(f"no account {slug!r}")
        store_id = _store(db, store_code)
        staff_id = _staff(db, staff_phone)
        start, end = stats.bounds(since_day, until_day)
        result = stats.report(db, account.id, by=by, store_id=store_id, staff_id=staff_id, start=start, end=end)
    if fmt == "csv":
        click.echo(as_csv(result, by), nl=False)
        return
    scope = "".join([f", store {store_code}" if store_code else "",
                     f", staff {mask_phone(normalize(staff_phone))}" if staff_phone else ""])
    click.echo(f"{slug}: {since_day or 'beginning'} to {until_day} (China dates), by {by}{scope}")
    click.echo(as_table(result, by))


def _store(db, code: str | None) -> int | None:
    if code is None:
        return None
    store = db.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise click.ClickException(f"no store {code!r}")
    return store.id


def _staff(db, phone: str | None) -> int | None:
    if phone is None:
        return None
    number = normalize(phone)
    if number is None:
        raise click.ClickException(f"--staff {phone!r} is not a mainland mobile number")
    staff = db.scalar(select(Staff).where(Staff.phone == number))      # inactive too: history counts
    if staff is None:
        raise click.ClickException(f"no staff with phone {mask_phone(number)}")
    return staff.id


def _values(counts: stats.Counts) -> list[int]:
    return [counts.scans, counts.unique, counts.follows, counts.refollows, counts.unfollows, counts.net,
            counts.members]


def as_csv(result: stats.Report, by: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by, "label", *CSV_COLUMNS])
    for line in result.lines:
        writer.writerow([line.name, line.label, *_values(line.counts)])
    writer.writerow(["total", "", *_values(result.total)])
    return out.getvalue()


def width(text: str) -> int:
    """Columns a terminal gives `text` (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cut(text: str, columns: int) -> str:
    """`text` padded or shortened (with …) to exactly `columns` terminal columns."""
    if width(text) > columns:
        while width(text) > columns - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (columns - width(text))


def as_table(result: stats.Report, by: str) -> str:
    name_w = max([width(by), width("total")] + [width(ln.name) for ln in result.lines])
    label_w = min(40, max([5] + [width(ln.label) for ln in result.lines]))
    header = f"{cut(by, name_w)}  {cut('label', label_w)}  " + " ".join(f"{c:>9}" for c in COLUMNS)
    rows = [header, "-" * width(header)]
    for line in result.lines:
        rows.append(f"{cut(line.name, name_w)}  {cut(line.label, label_w)}  "
                    + " ".join(f"{v:>9}" for v in _values(line.counts)))
    if not result.lines:
        rows.append("(nothing in this period)")
    rows.append("-" * width(header))
    rows.append(f"{cut('total', name_w)}  {cut('', label_w)}  " + " ".join(f"{v:>9}" for v in _values(result.total)))
    return "\n".join(rows)
