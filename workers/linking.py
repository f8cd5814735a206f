"""Jobs behind linking a subscription fan to the service account (handlers/linking.py).

make_link_code  the temporary QR_STR_SCENE code carrying a fan's one-time token (WECHAT-PLATFORM.md
                §5.3 step 3; §4.2: scene_str ≤ 64, expire_seconds ≤ 2 592 000); safe to run twice:
                a token with a ticket is left alone.
learn_unionids  after a follow, user/info/batchget (§5.2, §4.3) for the account's fans not asked
                yet, 100 a call: a fan's unionid, and the person's fans of the group's other
                accounts with the same unionid become one member, no scan needed. One run per
                account at a time (a coalesced job), so a burst of follows is a few calls.
"""
import logging

from sqlalchemy import select, update

from bot.jobs import coalesced_job_started
from bot.linking import join as joining
from bot.linking import unionids
from bot.linking.hq import display_name
from bot.points.ledger import Book
from bot.qr import scene
from bot.wechat import WeChatError
from models import Account, Fan, LinkToken
from models.account import SERVICE, SUBSCRIPTION
from models.link import UNIONID
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)

BATCH = 100             # user/info/batchget takes at most 100 openids (§4.3)
BATCHES_PER_RUN = 20    # then the run queues the rest, so other jobs of its queue get a turn

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


def learn_unionids(account_id: int) -> None:
    """Asks WeChat for the unionid of every fan of the account not asked yet, 100 a call; a fan is
    marked asked by a guarded UPDATE, so two runs never link twice."""
    with job_scope() as job:
        coalesced_job_started(job.redis, unionids.job_id(account_id))
    for _ in range(BATCHES_PER_RUN):
        if not learn_batch(account_id):
            return
    with job_scope() as job:        # more than one run's share: the rest in a run of its own
        unionids.learn_later(job.enqueue, account_id)


def learn_unionid(fan_id: int) -> None:
    """A job queued before the batches (one per follow): its fan's account's run asks for it."""
    with job_scope() as job:
        fan = job.db.get(Fan, fan_id)
        if fan is not None and fan.unionid_checked_at is None:
            unionids.learn_later(job.enqueue, fan.account_id)


def learn_batch(account_id: int) -> bool:
    """One batch of fans not asked yet, WeChat asked with no transaction open; False when there
    was none (or WeChat refused for good)."""
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        if account is None:
            return False
        batch = job.db.execute(select(Fan.id, Fan.openid).where(
            Fan.account_id == account_id, Fan.unionid_checked_at.is_(None)).order_by(Fan.id).limit(BATCH)).all()
        client = job.client(account)
    if not batch:
        return False
    try:
        answers = ask_unionids(client, [openid for _, openid in batch])
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise
        log.warning("user/info batchget failed account_id=%s: %s", account_id, exc)
        return False
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        for fan_id, openid in batch:
            unionid = answers.get(openid)
            taken = job.db.execute(update(Fan).where(Fan.id == fan_id, Fan.unionid_checked_at.is_(None))
                                   .values(unionid_checked_at=job.now, unionid=unionid or Fan.unionid))
            if taken.rowcount and unionid:
                link_by_unionid(job, job.db.get(Fan, fan_id), account)
        log.info("unionids learnt account=%s asked=%d known=%d", account.slug, len(batch),
                 sum(1 for v in answers.values() if v))
    return True


def ask_unionids(client, openids: list[str]) -> dict[str, str | None]:
    """openid -> unionid (None: the account is bound to no open platform, §5.2, or the fan has
    gone: subscribe 0 carries nothing else, §4.3). One openid WeChat refuses fails the whole
    batchget, so a refused batch is asked again one by one and the refused fan gets None."""
    try:
        return {info["openid"]: info.get("unionid") for info in client.user.get_batch(openids)}
    except WeChatError as exc:
        if exc.retryable:
            raise
    answers: dict[str, str | None] = {}
    for openid in openids:
        try:
            answers[openid] = client.user.get(openid).get("unionid")
        except WeChatError as exc:
            if exc.retryable:
                raise
            log.warning("user/info refused fan openid=%s: %s", openid, exc)
            answers[openid] = None
    return answers


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
