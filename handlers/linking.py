"""Leading fans to the group's service account, and recognising them when they arrive.

  服务号 / 关注服务号 / 关联服务号
    on an account that is not the service account → a one-article news card: the service
        account's temporary QR code with the fan's one-time token (WECHAT-PLATFORM.md §5.3:
        PicUrl our rendering of the code, Url a page showing it; no media upload needed);
        a fan linked already is told so
    on the service account itself                 → told they are there already
  商城 / 积分商城
    on an account without OAuth (§5.1: verified service accounts only) → the same card, saying
        the mall lives on the service account; elsewhere the mall's own handler answers
  follow / scan of a link code on the service account (handlers/subscribe.py calls `arrived`)
    → the two fans become one member (bot/linking/join.py); a used, expired, unknown or other
      account's token is refused with what to do instead
  any text from an unlinked member of a subscription account → at most once a week, one line
    inviting them to the service account (no reward promised: §5.3, 诱导关注)
"""
from sqlalchemy import select

from bot import keys
from bot.capabilities import Cap
from bot.claims import claim
from bot.dispatch import PASS, Router, Turn
from bot.linking import join as joining
from bot.linking import tokens
from bot.linking.hq import display_name, is_subsidiary, service_account
from bot.points.ledger import Book
from bot.points.notify import tell_members
from bot.protocol import Article, kind
from bot.qr import scene
from handlers.wording import or_button
from menus.definition import MenuKey
from models import Account, Fan
from models.link import SCAN

router = Router("linking")

CARD_TITLE = "关注「{name}」，会员权益通用"
CARD_TEXT = "长按识别图中二维码关注「{name}」。{why}二维码 1 小时内有效，仅限本人使用。"
SAME_PERSON = "积分、等级与本号通用，积分商城、人工客服都在那里。"
ALREADY = "您已关联「{name}」，{why}请在「{name}」中使用。"
HERE = "您正在使用「{name}」，积分商城、人工客服都在这里。回复“帮助”查看可以做什么。"
NOWHERE = "本公众号暂时不能提供这项服务，请联系门店工作人员。"
MALL = "积分商城在「{name}」中。"
REMINDER = "小提示：关注「{name}」，积分商城、人工客服都在那里，会员权益与本号通用。回复“服务号”获取二维码。"
# What the service-account fan hears after scanning, by outcome (bot/linking/tokens.py, join.py);
# {bind} and {agent} name the account's menu buttons, where it has them (handlers/wording.py).
LINKED = "已关联您在「{sub}」的会员身份：积分 {points}，会员等级与权益通用。"
LINKED_NO_MEMBER = "已关联「{sub}」。回复“绑定”{bind}，验证手机号即可成为会员，两个公众号的积分和等级是同一份。"
SAME = "您在「{sub}」和这里已是同一会员（绑定了同一手机号），积分 {points}，无需再次关联。"
REFUSED = {
    tokens.USED: "这个二维码已被使用过。请回到「{sub}」回复“服务号”获取新的二维码。",
    tokens.EXPIRED: "这个二维码已过期。请回到「{sub}」回复“服务号”获取新的二维码。",
    tokens.UNKNOWN: "没有找到这个关联二维码。请回到原公众号回复“服务号”获取新的二维码。",
    tokens.OTHER_ACCOUNT: "这个二维码不是本公众号的。请回到「{sub}」回复“服务号”获取新的二维码。",
    joining.DIFFERENT: "您在这里已用另一手机号绑定会员，无法自动合并。如需合并积分，请回复“人工”{agent}，由客服为您处理。",
    joining.OCCUPIED: "这个会员已关联了本公众号的另一个微信，无法再关联。如有疑问，请回复“人工”{agent}，由客服为您处理。",
}


@router.text("服务号", "关注服务号", "关联服务号")
def service(ctx, msg):
    """The card leading to the service account (or where the fan stands)."""
    hq = service_account(ctx.db, ctx.config)
    if hq is not None and hq.id == ctx.account.id:
        return HERE.format(name=display_name(hq))
    return lead(ctx, SAME_PERSON)


@router.text("商城", "积分商城")
def mall(ctx, msg):
    """Where the mall lives: here when this account has OAuth, else the service account."""
    if ctx.caps.allows(Cap.OAUTH):
        return PASS
    hq = service_account(ctx.db, ctx.config)
    return lead(ctx, MALL.format(name=display_name(hq)) if hq else "")


def lead(ctx, why: str) -> Turn | str:
    """The news card with the fan's one-time code for the service account; text when the fan is
    linked already or the group has no service account that can take them."""
    hq = service_account(ctx.db, ctx.config)
    if hq is None or hq.id == ctx.account.id:
        return NOWHERE
    name = display_name(hq)
    other = joining.linked_fan(ctx.db, ctx.fan)
    if other is not None and other.account_id == hq.id and other.following:
        return ALREADY.format(name=name, why=why)
    token = tokens.offer(ctx.db, ctx.fan, hq, ctx.now)
    if token.ticket is None:
        # `high`: the card's picture is fetched as soon as the fan opens the chat.
        ctx.enqueue("workers.linking.make_link_code", token.id, queue="high", retry=(5, 15, 60))
    base = ctx.config["PUBLIC_BASE_URL"]
    return Turn(news=Article(title=CARD_TITLE.format(name=name), description=CARD_TEXT.format(name=name, why=why),
                             pic_url=f"{base}/link/{token.token}/qr.png", url=f"{base}/link/{token.token}"))


def passive_note(ctx) -> str:
    """For an account that answers only passively (§5.1: no customer-service messages): when a
    person's answer reaches the fan, and where it would come at once."""
    hq = service_account(ctx.db, ctx.config)
    note = "\n本公众号只能在您发消息时回复：客服的回复会在您下次发消息时一并送达。"
    if hq is None or hq.id == ctx.account.id:
        return note
    return note + f"想即时收到回复，可回复“服务号”关注「{display_name(hq)}」。"


def arrived(ctx, event_key: str | None) -> str | None:
    """A follow or scan on the service account through a link code: the answer, or None when
    the scene is no link code."""
    value = scene.link_token(event_key)
    if value is None:
        return None
    got = tokens.claim(ctx.db, ctx.account, ctx.fan, value, ctx.now)
    sub = _sub_name(ctx.db, got.token)
    if got.outcome not in (tokens.TAKEN, tokens.MINE):
        return REFUSED[got.outcome].format(sub=sub)
    sub_fan = ctx.db.get(Fan, got.token.fan_id)
    book = Book(ctx.db, ctx.now)
    joined = joining.join(book, sub_fan, ctx.fan, SCAN, ctx.enqueue)
    tell_members(book, ctx)
    return answer(ctx, joined, sub, again=got.outcome == tokens.MINE)


def answer(ctx, joined: joining.Joined, sub: str, again: bool = False) -> str:
    """What the service-account fan hears; `again`: they scanned their own used code once more."""
    if joined.outcome in REFUSED:
        return REFUSED[joined.outcome].format(agent=or_button(ctx, MenuKey.CONTACT_AGENT))
    points = joined.member.points if joined.member is not None else 0
    if again and joined.outcome == joining.SAME:
        return LINKED.format(sub=sub, points=points)
    text = {joining.LINKED: LINKED, joining.SAME: SAME, joining.NO_MEMBER: LINKED_NO_MEMBER}[joined.outcome]
    return text.format(sub=sub, points=points, bind=or_button(ctx, MenuKey.BIND_PHONE))


def _sub_name(db, token) -> str:
    account = db.get(Account, token.account_id) if token is not None else None
    return display_name(account) if account is not None else "原公众号"


@router.on(lambda msg: kind(msg) == "text")
def remind(ctx, msg):
    """Once a week at most, an unlinked member of a subscription account hears where the service
    account is, at the end of the passive reply to their text; the message routes on."""
    if ctx.fan.member_id is None or not is_subsidiary(ctx.account):
        return PASS
    hq = service_account(ctx.db, ctx.config)
    if hq is None or _linked_to(ctx.db, ctx.fan, hq):
        return PASS
    if claim(ctx.redis, keys.link_reminder(ctx.account.slug, ctx.openid), ctx.now, keys.LINK_REMINDER_TTL):
        ctx.postscript = REMINDER.format(name=display_name(hq))
    return PASS


def _linked_to(db, fan: Fan, hq: Account) -> bool:
    """The person has a fan on the service account already (linked, or one member by phone)."""
    if fan.member_id is not None and db.scalar(select(Fan.id).where(
            Fan.account_id == hq.id, Fan.member_id == fan.member_id)) is not None:
        return True
    other = joining.linked_fan(db, fan)
    return other is not None and other.account_id == hq.id
