"""`flask --app wsgi keywords add|list|remove`: keyword auto-replies per account."""
import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.commands.common import account_or_fail, session
from bot.protocol import clean_text
from models import KeywordReply
from models.keyword import CONTAINS, EXACT


@click.group("keywords", help="Keyword auto-replies per account.", cls=AppGroup)
def keywords_cli():
    pass


@keywords_cli.command("add")
@click.option("--account", "slug", required=True)
@click.option("--match", type=click.Choice([EXACT, CONTAINS]), default=EXACT)
@click.argument("keyword")
@click.argument("reply")
def keywords_add(slug, match, keyword, reply):
    """Answer REPLY to texts equal to (or containing) KEYWORD; adding it again replaces the reply."""
    keyword, reply = clean_text(keyword).strip(), clean_text(reply)   # no control characters (§7.6)
    if not keyword or len(keyword) > 64:
        raise click.BadParameter("keyword must be 1-64 characters", param_hint="KEYWORD")
    if not reply.strip():
        raise click.BadParameter("reply must not be empty", param_hint="REPLY")
    with session() as db, db.begin():
        account = account_or_fail(db, slug)
        row = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                   KeywordReply.keyword == keyword, KeywordReply.match == match))
        if row is None:
            db.add(KeywordReply(account_id=account.id, keyword=keyword, match=match, reply=reply))
        else:
            row.reply = reply
    click.echo(f"{slug}: {match} “{keyword}” saved")


@keywords_cli.command("list")
@click.option("--account", "slug", required=True)
def keywords_list(slug):
    with session() as db:
        account = account_or_fail(db, slug)
        rows = db.scalars(select(KeywordReply).where(KeywordReply.account_id == account.id)
                          .order_by(KeywordReply.match, KeywordReply.keyword)).all()
    for row in rows:
        click.echo(f"{row.match:<8} {row.keyword:<16} → {row.reply[:60]}")


@keywords_cli.command("remove")
@click.option("--account", "slug", required=True)
@click.option("--match", type=click.Choice([EXACT, CONTAINS]), default=EXACT)
@click.argument("keyword")
def keywords_remove(slug, match, keyword):
    with session() as db, db.begin():
        account = account_or_fail(db, slug)
        row = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                   KeywordReply.keyword == keyword, KeywordReply.match == match))
        if row is None:
            raise click.ClickException(f"no {match} keyword “{keyword}” on {slug}")
        db.delete(row)
    click.echo(f"{slug}: {match} “{keyword}” removed")
