"""拉新: a store manager's chart of follows through their store's codes.

  拉新 / 拉新数据 / menu RECRUIT_STATS
    not on the active roster            → told the chart is for store managers
    staff, but not a manager            → told so (and where their own tools are)
    asked again within a minute         → told it is on its way (double clicks make one chart)
    account without media upload        → the same figures as text (§5.1: unverified accounts
                                          cannot upload images, only answer passively)
    either way                          → the store's subscription fans linked to the service
                                          account (bot/linking/report.py), as text
    otherwise                           → "正在生成…", and workers.recruit.send_chart sends the image
WeChat's re-deliveries of one push never reach this handler twice (the webhook dedupes them, §2).
"""
from bot import keys
from bot.binding.roles import active_staff
from bot.capabilities import Cap
from bot.claims import claim
from bot.dispatch import Router
from bot.linking.report import for_store
from bot.qr import chart, stats
from menus.definition import MenuKey
from models import Store
from models.org import MANAGER

router = Router("recruit")

NOT_STAFF = "“拉新”数据是店长专用功能：店长绑定登记在册的手机号后，发送“拉新”即可查看本店近 30 天的拉新图表。"
NOT_MANAGER = "“拉新”数据仅向店长开放，请找本店店长查看。发送“海报”可获取带您专属二维码的推广海报。"
MAKING = "正在生成本店近 30 天的拉新图表，请稍候…"
ALREADY = "拉新图表正在生成或刚刚已发出，请稍候查看，不必重复发送。"


@router.text("拉新", "拉新数据")
@router.click(MenuKey.RECRUIT_STATS)
def recruit(ctx, msg):
    """Starts the manager's chart (a job draws and sends it), or says why not."""
    staff = active_staff(ctx.db, ctx.fan.member_id)
    if staff is None:
        return NOT_STAFF
    if MANAGER not in staff.role_list:
        return NOT_MANAGER
    if not ctx.caps.allows(Cap.MEDIA):
        store = ctx.db.get(Store, staff.store_id)
        links = for_store(ctx.db, ctx.now, store.id)
        text = chart.summary(chart.gather(ctx.db, store, stats.china_today(ctx.now)))
        return f"{text}\n{links}" if links else text
    if not claim(ctx.redis, keys.recruit_lock(ctx.account.slug, staff.id), ctx.now, keys.RECRUIT_LOCK_TTL):
        return ALREADY
    # `high`: after a menu click the image must leave within WeChat's one-minute window (§4.7).
    ctx.enqueue("workers.recruit.send_chart", ctx.account.id, staff.id, ctx.openid, queue="high",
                retry=(5, 15, 60))
    return MAKING
