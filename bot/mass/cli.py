"""`flask --app wsgi mass send|confirm|list`: mass sends by tag (群发), planned, previewed, sent.

`mass send` plans (fans with the tag, how many WeChat's limits let through by our own count,
WECHAT-PLATFORM.md §4.13) and sends the preview to a staff member's WeChat; nothing reaches fans
until `mass confirm GROUP`. Several --account at once share one group (content for the group).
"""
import base64
import json
import uuid
from pathlib import Path

import click
import yaml
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.commands.columns import table
from bot.commands.common import account_or_fail
from bot.jobs import committed
from bot.mass.plan import plan
from models import Account, Fan, MassSend, Staff
from models.member import mask_phone
from models.mass import PLANNED

mass_cli = AppGroup("mass", help="Mass sends by tag: plan and preview, confirm, list.")
TEXT_MAX = 2048          # bytes, as WeChat measures texts (§4.7, §7)
IMAGE_MAX = 2 * 1024 * 1024


def _content(text: str | None, news: Path | None, image: Path | None) -> tuple[str, dict]:
    given = [x for x in (text, news, image) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --text, --news FILE, --image FILE")
    if text is not None:
        if not text.strip() or len(text.encode()) > TEXT_MAX:
            raise click.BadParameter(f"the text must be 1 to {TEXT_MAX} bytes", param_hint="--text")
        return "text", {"text": text}
    if image is not None:
        data = image.read_bytes()
        if len(data) > IMAGE_MAX or not data.startswith((b"\x89PNG", b"\xff\xd8")):
            raise click.BadParameter("a PNG or JPEG of at most 2 MB", param_hint="--image")
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        return "image", {"image_b64": base64.b64encode(data).decode(), "filename": image.name, "mime": mime}
    articles = yaml.safe_load(news.read_text(encoding="utf-8"))
    if not isinstance(articles, list) or not 1 <= len(articles) <= 8 or not all(
            isinstance(a, dict) and a.get("title") and a.get("content") for a in articles):
        raise click.BadParameter("a YAML list of 1 to 8 articles, each with title and content",
                                 param_hint="--news")
    return "mpnews", {"articles": [{k: str(v) for k, v in a.items()} for a in articles]}


def _staff_openid(db, account: Account, phone: str) -> str:
    staff = db.scalar(select(Staff).where(Staff.phone == phone))
    fan = staff and staff.member_id and db.scalar(select(Fan).where(
        Fan.account_id == account.id, Fan.member_id == staff.member_id, Fan.following))
    if not fan:
        raise click.ClickException(f"no staff member {mask_phone(phone)} follows {account.slug} with a bound "
                                   "phone; they follow the account and bind the phone first")
    return fan.openid


@mass_cli.command("send")
@click.option("--account", "slugs", multiple=True, required=True, help="Repeatable: the same content to each.")
@click.option("--tag", required=True)
@click.option("--text")
@click.option("--news", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preview-to", "preview_phone", help="A staff member's phone: the preview goes to their WeChat.")
def send_command(slugs, tag, text, news, image, preview_phone):
    """Plan a send and preview it; `mass confirm GROUP` sends it."""
    msgtype, content = _content(text, news, image)
    group = uuid.uuid4().hex[:16]
    now = current_app.extensions["clock"].now()
    with committed(current_app) as (db, enqueue):
        for slug in dict.fromkeys(slugs):
            account = account_or_fail(db, slug)
            planned = plan(db, account, tag, now)
            if planned.refusal:
                raise click.ClickException(f"{slug}: {planned.refusal}; nothing was planned")
            row = MassSend(account_id=account.id, group_key=group, tag=tag, msgtype=msgtype, content=content,
                           client_msg_id=f"mass-{group}-{account.id}", status=PLANNED,
                           planned_fans=planned.on_wechat, planned_within_limit=len(planned.within_limit))
            db.add(row)
            db.flush()
            held = planned.carrying - planned.on_wechat
            click.echo(f"{slug}: tag {tag}: {planned.carrying} following fans carry it"
                       + (f" ({held} not on WeChat: they get nothing)" if held else "")
                       + f"; {len(planned.within_limit)} within WeChat's limit "
                       + ("(1 mass send a day)" if account.type == "subscription" else "(4 a month per fan)"))
            if preview_phone:
                enqueue("workers.mass.preview", row.id, _staff_openid(db, account, preview_phone),
                        retry=(5, 15, 60))
                click.echo(f"{slug}: preview queued to staff {mask_phone(preview_phone)}")
    click.echo(f"planned as group {group}; to send: flask --app wsgi mass confirm {group}")


@mass_cli.command("confirm")
@click.argument("group")
def confirm_command(group: str):
    """Send a planned group (each account once, whatever retries happen)."""
    with committed(current_app) as (db, enqueue):
        rows = list(db.scalars(select(MassSend).where(MassSend.group_key == group)))
        if not rows:
            raise click.ClickException(f"no planned send {group}; `mass list` shows them")
        for row in rows:
            if row.status == PLANNED:
                enqueue("workers.mass.send", row.id, queue="low", job_id=f"mass-send-{row.id}", retry=(5, 15, 60))
    click.echo(f"group {group}: {sum(r.status == PLANNED for r in rows)} send(s) queued")


@mass_cli.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(fmt: str):
    with current_app.extensions["db"]() as db:
        slugs = dict(db.execute(select(Account.id, Account.slug)).all())
        rows = list(db.scalars(select(MassSend).order_by(MassSend.id)))
    shown = [{"id": r.id, "group": r.group_key, "account": slugs.get(r.account_id), "tag": r.tag,
              "type": r.msgtype, "status": r.status, "planned": r.planned_fans,
              "within_limit": r.planned_within_limit, "total": r.total_count, "filtered": r.filter_count,
              "sent": r.sent_count, "errors": r.error_count, "error": r.error} for r in rows]
    if fmt == "json":
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    if not shown:
        click.echo("no mass sends yet")
    for line in table([[str(s["id"]), s["group"], s["account"] or "-", s["tag"], s["type"], s["status"],
                        f"planned {s['planned']} (within limit {s['within_limit']})",
                        f"total {s['total']} filtered {s['filtered']} sent {s['sent']} errors {s['errors']}"
                        if s["total"] is not None else (s["error"] or "no finish event yet")] for s in shown]):
        click.echo(line)
