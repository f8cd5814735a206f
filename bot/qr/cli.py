"""`flask --app wsgi qr ...`: create, list, show and count parametric QR codes."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.clock import CST
from bot.commands.common import account_or_fail
from bot.phones import mask_phone, normalize
from bot.qr import batch as batches, codes, render, scene
from bot.wechat import WeChatError, make_client
from models import Account, QrCode, Staff, Store

MAX_ID = 2**31 - 1       # qr_code.id is an INTEGER: a larger number is no code of ours


@click.group("qr", help="Parametric QR codes: create, list, show, stats.", cls=AppGroup)
def qr_cli():
    pass


def _client(account: Account):
    ext, cfg = current_app.extensions, current_app.config
    return make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"], cfg["WECHAT_HTTP_TIMEOUT"])


def _budget_line(db, account: Account) -> str:
    return f"permanent codes: {codes.permanent_used(db, account.id):,} of {codes.PERMANENT_BUDGET:,} used"


@qr_cli.command("create", help="Create one code, or a batch (--count N), and write PNGs to --out "
                               "(a batch as one zip). Re-running the same command resumes it.")
@click.option("--account", "slug", required=True)
@click.option("--store", "store_code", help="Store code: scanners are attributed to this store.")
@click.option("--staff", "staff_phone", help="Staff phone: the staff member's code (and their store's).")
@click.option("--channel", help="A channel name, e.g. 地推 or 报纸广告.")
@click.option("--tag", "tags", multiple=True, help="A tag given to scanners (repeatable).")
@click.option("--welcome", help="The reply to a follow through this code (else the account's welcome).")
@click.option("--temporary", "temporary_days", type=int, help="Days a temporary code lives (1-30); "
                                                               "without it codes are permanent.")
@click.option("--count", type=int, default=1, show_default=True, help="How many codes (1-10000).")
@click.option("--batch", "batch_name", help="Name of the batch (default: a key made of the options).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the PNG (one code) or the zip (a batch).")
def qr_create(slug, store_code, staff_phone, channel, tags, welcome, temporary_days, count, batch_name, out):
    ext = current_app.extensions
    clock = ext["clock"]
    try:
        with ext["db"]() as db:
            request = batches.resolve(db, slug, store_code=store_code, staff_phone=staff_phone, channel=channel,
                                      tags=tags, welcome=welcome, temporary_days=temporary_days, count=count)
            name = batch_name or request.default_batch(clock.now())
            _make_dir(out)
            if not batches.batch_rows(db, request.account.id, name):
                batches.check_tag_room(db, _client(request.account), request)   # the one call before
        with ext["db"]() as db, db.begin():
            rows, made = batches.prepare(db, request, name, clock.now())
            ids = [row.id for row in rows if not row.ticket]
        click.echo(_intro(request, name, len(rows), made, len(ids)))
    except (batches.Refused, codes.QrUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    except IntegrityError:
        raise click.ClickException("this batch is being created by another run; "
                                   "run the same command again when it is done") from None
    except WeChatError as exc:
        raise click.ClickException(f"WeChat refused: {exc}; no code was created") from None
    _fill(request.account, ids, len(rows), clock)
    _write(request.account, name, out)


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise batches.Refused(f"--out {out}: {exc.strerror}") from None


def _intro(request: batches.Request, name: str, total: int, made: bool, waiting: int) -> str:
    kind = "permanent" if request.permanent else f"temporary ({request.temporary_days} days)"
    if made:
        return f"batch {name}: {total:,} new {kind} code{'s' if total > 1 else ''} for {request.account.slug}"
    if waiting:
        return f"batch {name}: resuming, {waiting:,} of {total:,} codes still need WeChat's answer"
    return (f"batch {name} is complete already ({total:,} codes): nothing created, writing the files again "
            "(use --batch NAME for another batch with the same options)")


def _fill(account: Account, ids: list[int], total: int, clock) -> None:
    """A ticket for each waiting code, one transaction each, behind a progress bar; on a WeChat
    error or Ctrl-C the codes done so far are kept and the same command finishes the rest."""
    if not ids:
        return
    sessions, client = current_app.extensions["db"], _client(account)
    done = total - len(ids)
    try:
        with click.progressbar(length=total, label="creating codes", show_pos=True) as bar:
            bar.update(done)
            for code_id in ids:
                batches.issue(sessions, client, code_id, clock)
                done += 1
                bar.update(1)
    except (WeChatError, KeyboardInterrupt) as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"WeChat refused: {exc}"
        click.echo(reason, err=True)
        raise click.ClickException(f"{done:,} of {total:,} codes created; "
                                   "run the same command again to finish") from None


def _write(account: Account, name: str, out: Path) -> None:
    with current_app.extensions["db"]() as db:
        rows = batches.batch_rows(db, account.id, name)
        budget = _budget_line(db, account)
    if len(rows) == 1:
        code = rows[0]
        path = render.write_png(out, code.scene, code.url, code.label)
        click.echo(f"code {code.scene} ({code.label}): {path}")
    else:
        with click.progressbar(rows, label="drawing PNGs") as bar:
            path = render.write_zip(out, name, ((c.scene, c.url, c.label) for c in bar))
        click.echo(f"{len(rows):,} codes: {path} ({len(rows):,} PNGs, one per scene)")
    click.echo(budget)



def _expiry(code: QrCode, now) -> str:
    if code.permanent:
        return "permanent"
    when = code.expires_at.astimezone(CST).strftime("%Y-%m-%d %H:%M")
    return f"{'expired' if code.expires_at <= now else 'until'} {when}"


@qr_cli.command("list", help="The account's codes, filtered by store, staff or channel.")
@click.option("--account", "slug", required=True)
@click.option("--store", "store_code", help="Only this store's codes (store code).")
@click.option("--staff", "staff_phone", help="Only this staff member's codes (phone).")
@click.option("--channel", help="Only codes of this channel.")
def qr_list(slug, store_code, staff_phone, channel):
    now = current_app.extensions["clock"].now()
    with current_app.extensions["db"]() as db:
        account = account_or_fail(db, slug)
        query = select(QrCode).where(QrCode.account_id == account.id).order_by(QrCode.id)
        if store_code is not None:
            store = db.scalar(select(Store).where(Store.code == store_code))
            if store is None:
                raise click.ClickException(f"no store {store_code}")
            query = query.where(QrCode.store_id == store.id)
        if staff_phone is not None:
            number = normalize(staff_phone)
            if number is None:
                raise click.ClickException(f"--staff {staff_phone!r} is not a mainland mobile number")
            staff = db.scalar(select(Staff).where(Staff.phone == number))
            if staff is None:
                raise click.ClickException(f"no staff with phone {mask_phone(number)}")
            query = query.where(QrCode.staff_id == staff.id)
        if channel is not None:
            query = query.where(QrCode.channel == channel)
        rows = db.scalars(query).all()
        stores = {s.id: s.code for s in db.scalars(select(Store))}
        staff_names = dict(db.execute(select(Staff.id, Staff.name)).all())
        budget = _budget_line(db, account)
    click.echo(f"{'id':>6}  {'scene':<10} {'validity':<23} {'store':<8} {'staff':<8} {'channel':<10} "
               f"{'tags':<16} ticket")
    for code in rows:
        click.echo(f"{code.id:>6}  {code.scene:<10} {_expiry(code, now):<23} {stores.get(code.store_id, '-'):<8} "
                   f"{staff_names.get(code.staff_id, '-'):<8} {code.channel or '-':<10} "
                   f"{','.join(code.tags or []) or '-':<16} {'yes' if code.ticket else 'pending'}")
    click.echo(f"{len(rows):,} codes" if rows else "no codes yet: flask --app wsgi qr create --help")
    click.echo(budget)


@qr_cli.command("show", help="Everything about one code, by id or scene (e.g. 42 or qr42).")
@click.argument("id_or_scene")
@click.option("--account", "slug", required=True)
def qr_show(id_or_scene, slug):
    now = current_app.extensions["clock"].now()
    text = id_or_scene.strip()
    code_id = int(text) if text.isdigit() else scene.code_id(text)
    code_id = code_id if code_id and code_id <= MAX_ID else None
    with current_app.extensions["db"]() as db:
        account = account_or_fail(db, slug)
        code = db.get(QrCode, code_id) if code_id else None
        if code is None or code.account_id != account.id:
            raise click.ClickException(f"no code {id_or_scene} on account {slug}")
        store = db.get(Store, code.store_id) if code.store_id else None
        staff = db.get(Staff, code.staff_id) if code.staff_id else None
    fields = [
        ("id", code.id), ("scene", code.scene), ("account", slug), ("validity", _expiry(code, now)),
        ("store", f"{store.code} {store.name}" if store else "-"),
        ("staff", f"{staff.name} ({mask_phone(staff.phone)})" if staff else "-"),
        ("channel", code.channel or "-"), ("tags", ", ".join(code.tags or []) or "-"),
        ("welcome", code.welcome or "- (the account's welcome)"), ("label", code.label),
        ("batch", f"{code.batch} #{code.batch_index}" if code.batch else "-"),
        ("ticket", code.ticket or "pending (run the same qr create again)"), ("url", code.url or "-"),
        ("created", code.created_at.astimezone(CST).strftime("%Y-%m-%d %H:%M")),
    ]
    for name, value in fields:
        click.echo(f"{name + ':':<10} {value}")
