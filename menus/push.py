"""`flask --app wsgi menus check|push|diff --account SLUG`: the menus of menus/definition.py."""
import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.commands.common import account_or_fail
from bot.capabilities import Cap, for_account
from bot.jobs import JobBuffer
from bot.wechat import WeChatError, make_client
from handlers.mall import mall_url
from menus.definition import menus_for
from menus.validate import problems
from models import WechatTag
from models.tag import FAN_ROLE


@click.group("menus", help="Custom menus per account and menu role.", cls=AppGroup)
def menus_cli():
    pass



def _checked(slug: str) -> dict[str, list]:
    menus = menus_for(slug)
    found = [p for role, buttons in menus.items() for p in problems(buttons, f"{role} menu")]
    if found:
        for problem in found:
            click.echo(problem, err=True)
        raise click.ClickException(f"the menus of {slug} break WeChat's limits ({len(found)} problems)")
    return menus


@menus_cli.command("push", help="Check the account's menus and queue their push to WeChat.")
@click.option("--account", "slug", required=True)
def menus_push(slug: str):
    menus = _checked(slug)
    with current_app.extensions["db"]() as db:
        account = account_or_fail(db, slug)
        if not for_account(account).allows(Cap.MENU):
            raise click.ClickException(f"{slug} may not set menus (an unverified subscription account)")
        account_id = account.id
    buffer = JobBuffer()
    buffer("workers.menus.push_menu", account_id, queue="default", retry=(5, 15, 60))
    buffer.flush(current_app.extensions["jobs"])
    click.echo(f"menus of {slug} ({', '.join(menus)}) queued for WeChat")


@menus_cli.command("diff", help="What WeChat shows now, against what menus/definition.py defines.")
@click.option("--account", "slug", required=True)
def menus_diff(slug: str):
    menus = _checked(slug)
    ext, cfg = current_app.extensions, current_app.config
    with ext["db"]() as db:
        account = account_or_fail(db, slug)
        if for_account(account).allows(Cap.OAUTH):      # as workers/menus.py pushes them
            menus = menus_for(slug, mall_url(cfg, slug))
        tags = {row.wx_id: row.name for row in db.scalars(select(WechatTag).where(WechatTag.account_id == account.id))}
        client = make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"], cfg["WECHAT_HTTP_TIMEOUT"])
        live = live_menus(client)
    shown = {FAN_ROLE: _plain((live.get("menu") or {}).get("button", []))}
    for menu in live.get("conditionalmenu", []):
        shown[tags.get(int(menu.get("matchrule", {}).get("tag_id") or -1), "tag ?")] = _plain(menu["button"])
    same = True
    for role in sorted(set(menus) | set(shown)):
        want, have = _plain(menus.get(role, [])), shown.get(role)
        if want == have:
            click.echo(f"{role}: same")
            continue
        same = False
        click.echo(f"{role}: differs\n  defined: {json.dumps(want, ensure_ascii=False)}\n"
                   f"  live:    {json.dumps(have, ensure_ascii=False)}")
    click.echo("live menus match the definition" if same else "run: flask --app wsgi menus push --account " + slug)


NO_MENU = 46003     # menu/get: the account has no menu (WECHAT-PLATFORM.md §4.5)


def live_menus(client) -> dict:
    """menu/get's answer, {} when the account has no menu."""
    try:
        return client.menu.get() or {}
    except WeChatError as exc:
        if exc.errcode == NO_MENU:
            return {}
        raise


def _plain(buttons: list) -> list:
    """Buttons with only the fields we define (WeChat adds empty sub_button lists)."""
    out = []
    for button in buttons:
        subs = button.get("sub_button")
        if subs:
            out.append({"name": button["name"], "sub_button": _plain(subs)})
        else:
            out.append({k: v for k, v in button.items() if k in ("type", "name", "key", "url")})
    return out
