"""Jobs behind linking a subscription fan to the service account (handlers/linking.py).

make_link_code  the temporary QR_STR_SCENE code carrying a fan's one-time token (WECHAT-PLATFORM.md
                §5.3 step 3; §4.2: scene_str ≤ 64, expire_seconds ≤ 2 592 000); safe to run twice:
                a token with a ticket is left alone.
learn_unionid   user/info on a follow (§5.2, §4.3): the fan's unionid, and the person's fans of
                the group's other accounts with the same unionid become one member, no scan needed.
"""
import logging

from sqlalchemy import select

from bot.linking import join as joining
from bot.linking.hq import display_name
from bot.points.ledger import Book
from bot.qr import scene
from bot.wechat import WeChatError
from models import Account, Fan, LinkToken
from models.account import SERVICE, SUBSCRIPTION
from models.link import UNIONID
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)

CODE_FAILED = "抱歉，服务号二维码暂时没有生成成功，请稍后再回复“服务号”。"
KNOWN = "已识别您在「{other}」的会员身份（同一微信开放平台），积分 {points}，会员等级与权益通用。"


def make_link_code(token_id: int) -> None:
    try:
        with job_scope() as job:
            token = job.db.get(LinkToken, token_id, with_for_update=True)
            if token is None or token.ticket is not None or token.used_at is not None:
                return
            service = job.db.get(Account, token.service_account_id)
            seconds = int((token.expires_at - job.now).total_seconds())
            if seconds < 60:
                return          # expired before we got to it: the fan asks again and gets a new one
            answer = job.client(service).qrcode.create({
                "action_name": "QR_STR_SCENE", "expire_seconds": seconds,
                "action_info": {"scene": {"scene_str": scene.make_link(token.token)}}})
            token.ticket, token.url = answer["ticket"], answer["url"]
            log.info("link code made token_id=%s account=%s", token.id, service.slug)
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise
        log.warning("link code failed token_id=%s: %s", token_id, exc)
        with job_scope() as job:
            token = job.db.get(LinkToken, token_id)
            if token is not None:
                job.tell(job.db.get(Fan, token.fan_id), CODE_FAILED)


def learn_unionid(fan_id: int) -> None:
    try:
        with job_scope() as job:
            fan = job.db.get(Fan, fan_id)
            if fan is None or fan.unionid is not None:
                return
            account = job.db.get(Account, fan.account_id)
            info = job.client(account).user.get(fan.openid)
            unionid = info.get("unionid")
            if not unionid:
                return           # the account is bound to no open platform (§5.2)
            fan.unionid = unionid
            job.db.flush()
            link_by_unionid(job, fan, account)
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise
        log.warning("user/info failed fan_id=%s: %s", fan_id, exc)


def link_by_unionid(job, fan: Fan, account: Account) -> None:
    """Every fan of another account with the same unionid is the same person: pairs of a
    subscription fan and a service-account fan are joined; the service-account fan is told."""
    others = job.db.scalars(select(Fan).where(Fan.unionid == fan.unionid, Fan.id != fan.id,
                                              Fan.account_id != account.id))
    for other in others:
        theirs = job.db.get(Account, other.account_id)
        pair = {account.type: (fan, account), theirs.type: (other, theirs)}
        if set(pair) != {SERVICE, SUBSCRIPTION}:
            continue
        (sub_fan, sub_account), (service_fan, _) = pair[SUBSCRIPTION], pair[SERVICE]
        if joining.linked_fan(job.db, sub_fan) is service_fan:
            continue
        book = Book(job.db, job.now)
        joined = joining.join(book, sub_fan, service_fan, UNIONID, job.enqueue)
        log.info("linked by unionid fan_id=%s service_fan_id=%s outcome=%s", sub_fan.id, service_fan.id,
                 joined.outcome)
        for member_id, text in book.notices:
            job.tell(service_fan, text)
        if joined.outcome == joining.LINKED:
            job.tell(service_fan, KNOWN.format(other=display_name(sub_account), points=joined.member.points))
