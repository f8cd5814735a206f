"""拉新: the job behind a store manager's "拉新" (handlers/recruit.py)."""
import logging

from bot import keys
from bot.linking.report import for_store
from bot.qr import chart, stats
from bot.wechat import WeChatError
from models import Account, Staff, Store
from models.org import MANAGER
from workers.media import give_up, send_png, tell_and_release
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)

FAILED = "抱歉，拉新图表没有生成成功：{reason}。"
BUSY = "微信服务器繁忙，请稍后再发送“拉新”重试"
# What a WeChat refusal of the upload means for the manager, in plain words (§4.15).
REASONS = {
    48001: "本公众号没有上传图片的权限（需要认证），请联系管理员",
    45009: "今天的微信接口调用次数已用完，请明天再发送“拉新”",
    40164: "服务器的 IP 未加入公众号白名单，请联系管理员",
}


def send_chart(account_id: int, staff_id: int, openid: str) -> None:
    """Draws the manager's store chart (the last 30 China days, the store's codes only) and
    sends it as an image through the outbound policy. Safe to run again: it sends a fresh chart."""
    try:
        with job_scope() as job:
            account, staff = job.db.get(Account, account_id), job.db.get(Staff, staff_id)
            if account is None:
                log.warning("recruit chart for a removed account account_id=%s", account_id)
                return
            if staff is None or not staff.active or MANAGER not in staff.role_list:
                _tell(job, account, staff_id, openid, "您已不是在册的店长，如有疑问请联系管理员")
                return
            store = job.db.get(Store, staff.store_id)
            data = chart.gather(job.db, store, stats.china_today(job.now))
            png = draw(data)
            send_png(job, account, openid, png, f"recruit-{store.code}-{data.last:%Y%m%d}.png",
                     f"[图片] {store.name}近 {len(data.days)} 天拉新图表")
            links = for_store(job.db, job.now, store.id)
            if links:
                job.tell((account.id, openid), links)
            log.info("recruit chart queued account=%s staff_id=%s store=%s empty=%s bytes=%d", account.slug,
                     staff.id, store.code, data.empty, len(png))
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise                           # rq retries (5, 15, 60 s)
        log.warning("recruit chart failed account_id=%s staff_id=%s: %s", account_id, staff_id, exc)
        _fail(account_id, staff_id, openid, BUSY if exc.retryable else REASONS.get(
            exc.errcode, f"微信返回错误（代码 {exc.errcode}），请稍后再发送“拉新”重试"))


def draw(data: chart.ChartData) -> bytes:
    """The PNG of `data` (a seam: tests read the data a chart was drawn from here)."""
    return chart.render(data)


def _fail(account_id: int, staff_id: int, openid: str, reason: str) -> None:
    give_up(account_id, openid, FAILED.format(reason=reason), lambda slug: keys.recruit_lock(slug, staff_id))


def _tell(job, account: Account, staff_id: int, openid: str, reason: str) -> None:
    tell_and_release(job, account, openid, FAILED.format(reason=reason), keys.recruit_lock(account.slug, staff_id))
