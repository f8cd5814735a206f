"""报表: the chart behind a store manager's "报表" (handlers/reports.py)."""
import logging

from bot import keys
from bot.qr.stats import china_today
from bot.reports import store as store_report
from bot.wechat import WeChatError
from models import Account, Staff, Store
from models.org import MANAGER
from workers.media import give_up, send_png
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)

FAILED = "抱歉，报表图表没有生成成功，请稍后再发送“报表”重试。"


def send_chart(account_id: int, staff_id: int, openid: str) -> None:
    """Draws the store's funnel chart and sends it through the outbound policy; safe twice (a
    fresh chart each time)."""
    try:
        with job_scope() as job:
            account, staff = job.db.get(Account, account_id), job.db.get(Staff, staff_id)
            if account is None or staff is None or not staff.active or MANAGER not in staff.role_list:
                log.warning("report chart not sent: account %s staff %s is gone or no manager", account_id, staff_id)
                return
            store = job.db.get(Store, staff.store_id)
            figures = store_report.gather(job.db, store, china_today(job.now))
            png = store_report.chart(figures)
            send_png(job, account, openid, png, f"report-{store.code}-{figures.last:%Y%m%d}.png",
                     f"[图片] {store.name}近 30 天渠道漏斗")
            log.info("report chart queued account=%s staff_id=%s store=%s bytes=%d", account.slug, staff.id,
                     store.code, len(png))
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise
        log.warning("report chart failed account_id=%s staff_id=%s: %s", account_id, staff_id, exc)
        give_up(account_id, openid, FAILED, lambda slug: keys.report_lock(slug, staff_id))
