"""海报: a staff member's recruiting poster, with their own QR code.

  海报 / 我的海报 / menu POSTER
    not on the active roster        → told posters are for staff
    account without parametric QR  → told which account makes them (§4.2: verified service only)
    asked again within a minute     → told it is on its way (double clicks make one job)
    otherwise                       → "海报生成中", and workers.posters.send_poster sends the image
WeChat's re-deliveries of one push never reach this handler twice: the webhook dedupes them by
MsgId, or by sender + time + event + key for a click (bot/protocol.py fingerprint, §2).
"""
from bot import keys
from bot.binding.roles import active_staff
from bot.claims import claim
from bot.dispatch import Router
from bot.qr.codes import QrUnavailable, check_account, where_codes_are_made
from menus.definition import MenuKey

router = Router("poster")

STAFF_ONLY = "海报是员工专用功能：员工绑定登记在册的手机号后，即可获取带自己专属二维码的推广海报。"
MAKING = "海报生成中，请稍候…"
ALREADY = "您的海报正在生成或刚刚已发出，请稍候查看，不必重复发送。"
NO_QR = "本公众号不能生成带参数二维码（微信只向已认证的服务号开放），因此无法制作海报。"


@router.text("海报", "我的海报")
@router.click(MenuKey.POSTER)
def poster(ctx, msg):
    """Starts the staff member's poster (a job makes and sends it), or says why not."""
    staff = active_staff(ctx.db, ctx.fan.member_id)
    if staff is None:
        return STAFF_ONLY
    try:
        check_account(ctx.account)
    except QrUnavailable:
        return NO_QR + where_codes_are_made(ctx.db, ctx.config)
    if not claim(ctx.redis, keys.poster_lock(ctx.account.slug, staff.id), ctx.now, keys.POSTER_LOCK_TTL):
        return ALREADY
    # `high`: after a menu click the image must leave within WeChat's one-minute window (§4.7).
    ctx.enqueue("workers.posters.send_poster", ctx.account.id, staff.id, ctx.openid, queue="high",
                retry=(5, 15, 60))
    return MAKING

