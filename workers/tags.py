"""Making WeChat's tags agree with ours (menu-role tags: bot/roles.py)."""
import logging

from sqlalchemy import select

from bot.capabilities import Cap, for_account
from bot.wechat import WeChatError
from models import Account, Fan, WechatTag
from models.tag import ROLE_TAGS
from workers.runtime import job_scope

log = logging.getLogger(__name__)
TAG_EXISTS = 45157      # tags/create: the name is taken (we lost track of its id)


def tag_id(job, client, account: Account, name: str) -> int:
    """WeChat's id of our tag `name` on this account, created on first use."""
    row = job.db.scalar(select(WechatTag).where(WechatTag.account_id == account.id, WechatTag.name == name))
    if row is not None:
        return row.wx_id
    try:
        wx_id = client.tag.create(name)["id"]          # wechatpy hands back the "tag" object
    except WeChatError as exc:
        if exc.errcode != TAG_EXISTS:
            raise
        wx_id = next(t["id"] for t in client.tag.get() if t["name"] == name)
    job.db.add(WechatTag(account_id=account.id, name=name, wx_id=wx_id))
    job.db.flush()
    return wx_id


def apply_role_tag(fan_id: int) -> None:
    """Puts the fan's menu-role tag on them, last, and takes the other role tags off. Reads the
    role when it runs, so jobs that arrive out of order still leave the latest role."""
    with job_scope() as job:
        fan = job.db.get(Fan, fan_id)
        account = job.db.get(Account, fan.account_id) if fan else None
        if fan is None or not fan.following or not for_account(account).allows(Cap.USER_INFO):
            return      # gone, or an account without the tags API: nothing to show a menu to
        client = job.client(account)
        others = [tag_id(job, client, account, name) for name in ROLE_TAGS if name != fan.role_tag]
        wanted = tag_id(job, client, account, fan.role_tag)
        current = set(client.tag.get_user_tag(fan.openid))
        for other in others:
            if other in current:
                client.tag.untag_user(other, [fan.openid])
        # Untag first so the role tag becomes the last applied even when the fan had it (§4.6).
        if wanted in current:
            client.tag.untag_user(wanted, [fan.openid])
        client.tag.tag_user(wanted, [fan.openid])
        log.info("role tag account=%s fan=%s role=%s", account.slug, fan.id, fan.role_tag)
