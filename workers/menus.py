"""Pushing an account's menus to WeChat (menus/definition.py has them, menus/push.py the CLI)."""
import logging

from bot.capabilities import Cap, for_account
from handlers.mall import mall_url
from menus.definition import menus_for
from menus.push import live_menus
from models import Account
from models.tag import FAN_ROLE
from workers.runtime import job_scope
from workers.tags import tag_id

log = logging.getLogger(__name__)


def push_menu(account_id: int) -> None:
    """Creates the default (fan) menu, then replaces the conditional menus: one per other
    menu role, matched by its tag (§4.6: the default menu must exist first; a fan carries one
    role tag, applied last). Safe to run twice: the result is the same menus."""
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        caps = for_account(account)
        if not caps.allows(Cap.MENU):
            log.warning("menus not pushed: account %s may not set menus", account.slug)
            return
        client = job.client(account)
        # Fans and members open the mall from the menu where OAuth works (§4.11).
        mall = mall_url(job.app.config, account.slug) if caps.allows(Cap.OAUTH) else None
        menus = menus_for(account.slug, mall)
        client.menu.create({"button": menus[FAN_ROLE]})
        if not caps.allows(Cap.CONDITIONAL_MENU):
            return
        live = live_menus(client)
        for old in live.get("conditionalmenu", []):
            client.menu.del_conditional(old["menuid"])
        for role, buttons in menus.items():
            if role != FAN_ROLE:
                client.menu.add_conditional({"button": buttons,
                                             "matchrule": {"tag_id": str(tag_id(job, client, account, role))}})
        log.info("menus pushed account=%s roles=%s", account.slug, ",".join(menus))
