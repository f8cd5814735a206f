"""`flask --app wsgi tags list|reconcile --account SLUG`: our fan tags against WeChat's.

The policy (20 per fan, 100 per account, one role tag applied last) is in bot/tags/fan_tags.py;
the repair itself is workers/tags.py's, run here in the foreground so the operator reads the
report (the same plan the per-fan job follows, in batches of 50: WECHAT-PLATFORM.md §4.4).
"""
import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from bot.capabilities import Cap, for_account
from bot.commands.common import account_or_fail
from bot.wechat import WeChatError, make_client
from models import Account, Fan, FanTag, WechatTag
from models.tag import ROLE_TAGS

SYSTEM_TAG_IDS = frozenset({0, 1, 2})   # 未分组 / 黑名单 / 星标组: WeChat's own (§4.4)


@click.group("tags", help="Fan tags mirrored to WeChat: list, reconcile.", cls=AppGroup)
def tags_cli():
    pass


def _account(db, slug: str) -> Account:
    account = account_or_fail(db, slug)
    if not for_account(account).allows(Cap.USER_INFO):
        raise click.ClickException(f"{slug} may not use WeChat's tags (an unverified account, §5.1)")
    return account


@tags_cli.command("reconcile", help="Compare our tags with WeChat's and repair the difference.")
@click.option("--account", "slug", required=True)
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
def tags_reconcile(slug: str, dry_run: bool):
    with current_app.extensions["db"]() as db:
        account_id = _account(db, slug).id
    try:
        # WeChat calls are workers' business (DESIGN.md)
        report = current_app.extensions["jobs"].run_now("workers.tags.reconcile", account_id, dry_run)
    except WeChatError as exc:
        raise click.ClickException(f"WeChat did not answer ({exc}); what was repaired stays, run it again")
    for note in report.notes:
        click.echo(note)
    added = removed = moved = 0
    for name in sorted(report.changes):
        plus, minus, last = report.changes[name]
        if plus or minus or last:
            click.echo(f"tag {name}: +{plus} -{minus}" + (f", re-applied last {last}" if last else ""))
        added, removed, moved = added + plus, removed + minus, moved + last
    held = ", ".join(f"{reason} {n}" for reason, n in sorted(report.held.items()))
    click.echo(f"held back (stay local): {held or 'none'}")
    for openid, why in report.skipped:
        click.echo(f"skipped fan {openid}: WeChat answered {why}")
    if report.skipped:
        # Not "nothing to do": these fans' tags were never read, so nobody knows yet.
        click.echo(f"{len(report.skipped)} fans skipped (their tags could not be read; run reconcile again "
                   f"once WeChat answers for them); {report.fans} following fans compared, "
                   + (f"+{added} -{removed}, role tags re-applied last {moved}" if report.total else "all agree")
                   + (" (dry run: nothing changed)" if dry_run else ""))
    elif report.total == 0:
        click.echo(f"nothing to do: WeChat agrees with our tags ({report.fans} following fans)")
    else:
        click.echo(f"total: +{added} -{removed}, role tags re-applied last {moved}, "
                   f"{report.fans} following fans" + (" (dry run: nothing changed)" if dry_run else ""))


@tags_cli.command("list", help="Our tags, with their fans here and on WeChat.")
@click.option("--account", "slug", required=True)
def tags_list(slug: str):
    ext, cfg = current_app.extensions, current_app.config
    with ext["db"]() as db:
        account = _account(db, slug)
        ids = {row.name: row.wx_id for row in db.scalars(select(WechatTag).where(WechatTag.account_id == account.id))}
        following = (Fan.account_id == account.id, Fan.following)
        local = dict(db.execute(select(FanTag.name, func.count()).join(Fan, Fan.id == FanTag.fan_id)
                                .where(*following).group_by(FanTag.name)).all())
        held = dict(db.execute(select(FanTag.name, func.count()).join(Fan, Fan.id == FanTag.fan_id)
                               .where(*following, FanTag.held_back.is_not(None)).group_by(FanTag.name)).all())
        roles = dict(db.execute(select(Fan.role_tag, func.count()).where(*following).group_by(Fan.role_tag)).all())
        client = make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"], cfg["WECHAT_HTTP_TIMEOUT"])
        try:
            live = {t["id"]: t for t in client.tag.get() if t["id"] not in SYSTEM_TAG_IDS}
        except WeChatError as exc:
            raise click.ClickException(f"WeChat did not answer ({exc}); try again")
    click.echo("tag\tid\tfans here\ton WeChat\theld back")
    for name in [*ROLE_TAGS, *sorted((set(ids) | set(local)) - set(ROLE_TAGS))]:
        wx_id = ids.get(name)
        there = live[wx_id]["count"] if wx_id in live else ("missing" if wx_id else "not created")
        here = roles.get(name, 0) if name in ROLE_TAGS else local.get(name, 0)
        label = f"{name} (role)" if name in ROLE_TAGS else name
        click.echo(f"{label}\t{wx_id or '-'}\t{here}\t{there}\t{held.get(name, 0)}")
    for wx_id, tag in live.items():
        if wx_id not in ids.values():
            click.echo(f"{tag['name']} (not ours)\t{wx_id}\t-\t{tag['count']}\t-")
