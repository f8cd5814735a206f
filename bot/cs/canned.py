"""Canned replies (快捷 N): a store's numbered quick answers, plus ones for every store.

An agent's "快捷 N" sends reply N of the conversation's store (the fan's store; the agent's own
store when the fan has none); a number the store does not define falls back to the replies for
all stores (store_id None). Operators keep them with `flask --app wsgi cs canned add|list`.
"""
import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.jobs import committed
from models import CannedReply, Store

# A passive reply or customer-service text over ~2048 bytes fails (WECHAT-PLATFORM.md §7.5);
# a canned reply is one message, so it must fit in one.
CANNED_MAX_BYTES = 2048
NUMBER_MAX = 99


def canned(db: Session, store_id: int | None, number: int) -> CannedReply | None:
    """Reply `number` of the store, else the one for all stores, else None."""
    rows = db.scalars(select(CannedReply).where(CannedReply.number == number,
                                                (CannedReply.store_id == store_id)
                                                | CannedReply.store_id.is_(None))).all()
    return next((r for r in rows if r.store_id is not None), rows[0] if rows else None)


def replies_for(db: Session, store_id: int | None) -> list[CannedReply]:
    """What "快捷 N" offers for this store, by number (the store's own win over the shared ones)."""
    rows = db.scalars(select(CannedReply).where((CannedReply.store_id == store_id)
                                                | CannedReply.store_id.is_(None))
                      .order_by(CannedReply.number, CannedReply.store_id.is_(None))).all()
    chosen: dict[int, CannedReply] = {}
    for row in rows:
        chosen.setdefault(row.number, row)
    return [chosen[n] for n in sorted(chosen)]


def menu_text(db: Session, store_id: int | None) -> str:
    """The list an agent sees for "快捷" with no number."""
    rows = replies_for(db, store_id)
    if not rows:
        return "还没有快捷回复。请管理员用 cs canned add 添加。"
    lines = [f"{r.number}. {preview(r.text)}" for r in rows]
    return "快捷回复（回复“快捷 N”发送给顾客）：\n" + "\n".join(lines)


def preview(text: str, chars: int = 20) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= chars else one_line[:chars] + "…"


def put(db: Session, store_id: int | None, number: int, text: str) -> bool:
    """Add reply `number` (or replace its text); True when it was new."""
    row = db.scalar(select(CannedReply).where(
        CannedReply.number == number,
        CannedReply.store_id == store_id if store_id is not None else CannedReply.store_id.is_(None)))
    if row is None:
        db.add(CannedReply(store_id=store_id, number=number, text=text))
        return True
    row.text = text
    return False


# --- operator commands: `flask --app wsgi cs canned add|list` --------------------------------
canned_cli = AppGroup("canned", help="Canned replies (快捷 N) for agents.")


def _store(db: Session, code: str | None) -> Store | None:
    if code is None:
        return None
    store = db.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise click.ClickException(f"no store with code {code}")
    return store


@canned_cli.command("add")
@click.option("--store", "store_code", help="store code; without it, the reply is for every store")
@click.argument("number", type=click.IntRange(1, NUMBER_MAX))
@click.argument("text")
def add_command(store_code: str | None, number: int, text: str) -> None:
    """Add canned reply NUMBER (or replace its text)."""
    from flask import current_app
    text = text.strip()
    if not text:
        raise click.ClickException("the text is empty")
    if len(text.encode()) > CANNED_MAX_BYTES:
        raise click.ClickException(f"the text is over {CANNED_MAX_BYTES} bytes (one WeChat message)")
    with committed(current_app) as (db, _jobs):
        store = _store(db, store_code)
        new = put(db, store.id if store else None, number, text)
    where = f"store {store.code}" if store else "every store"
    click.echo(f"{'added' if new else 'replaced'} canned reply {number} for {where}")


@canned_cli.command("list")
@click.option("--store", "store_code", help="store code: what its agents get (with the shared ones)")
def list_command(store_code: str | None) -> None:
    """List canned replies: all of them, or what one store's agents get."""
    from flask import current_app
    with current_app.extensions["db"]() as db:
        store = _store(db, store_code)
        if store is not None:
            rows = replies_for(db, store.id)
        else:
            rows = db.scalars(select(CannedReply).order_by(CannedReply.store_id.is_not(None),
                                                           CannedReply.store_id, CannedReply.number)).all()
        codes = dict(db.execute(select(Store.id, Store.code)).all())
        if not rows:
            click.echo("no canned replies")
        for row in rows:
            click.echo(f"{codes.get(row.store_id, '*'):<10} {row.number:>3}  {preview(row.text, 60)}")
