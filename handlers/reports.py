"""报表: a store manager's channel funnel and customer-service times for their store.

  报表
    not on the active roster            → told the report is for store managers
    staff, but not a manager            → told so
    otherwise                           → the figures as text now; on an account that may upload
                                          images, the funnel chart follows (workers.reports.send_chart;
                                          asked again within a minute: only the text)
"""
from bot import keys
from bot.capabilities import Cap
from bot.claims import claim
from bot.dispatch import Router
from bot.qr.stats import china_today
from bot.reports import store as store_report
from bot.binding.roles import active_staff
from models import Store
from models.org import MANAGER

router = Router("reports")

NOT_STAFF = "“报表”是店长专用功能：店长绑定登记在册的手机号后，发送“报表”即可查看本店近 30 天的渠道漏斗。"
NOT_MANAGER = "“报表”仅向店长开放，请找本店店长查看。"
CHART_COMING = "\n图表稍后发送。"


@router.text("报表")
def report(ctx, msg):
    """The store's figures now, and the chart as an image after them."""
    staff = active_staff(ctx.db, ctx.fan.member_id)
    if staff is None:
        return NOT_STAFF
    if MANAGER not in staff.role_list:
        return NOT_MANAGER
    figures = store_report.gather(ctx.db, ctx.db.get(Store, staff.store_id), china_today(ctx.now))
    answer = store_report.text(figures)
    if ctx.caps.allows(Cap.MEDIA) and claim(ctx.redis, keys.report_lock(ctx.account.slug, staff.id), ctx.now,
                                            keys.REPORT_LOCK_TTL):
        # `high`: the image must leave within the one-minute window after this message (§4.7).
        ctx.enqueue("workers.reports.send_chart", ctx.account.id, staff.id, ctx.openid, queue="high",
                    retry=(5, 15, 60))
        answer += CHART_COMING
    return answer
