"""Points in the chat: "积分" (or the menu's MY_POINTS), "积分明细", and the daily "签到"."""
from bot.clock import CST
from bot.dispatch import Router
from bot.points import pending
from bot.points.engine import expire_due, fire, has_due_lots
from bot.points.ledger import Book
from bot.points.notify import tell_members
from bot.points.summary import details, overview
from handlers.wording import or_button
from menus.definition import DEFAULT, MenuKey, button_name
from models import Member
from models.points import OUTRANKED

router = Router("points")

NOT_A_MEMBER_TEXT = "您还不是会员。回复“绑定”{menu}，验证手机号即可成为会员，开始累积积分和成长值。"
NOT_A_MEMBER = NOT_A_MEMBER_TEXT.format(menu=f"或点击菜单“{button_name(DEFAULT, MenuKey.BIND_PHONE)}”")


def not_a_member(ctx) -> str:
    return NOT_A_MEMBER_TEXT.format(menu=or_button(ctx, MenuKey.BIND_PHONE))


def _member(ctx) -> tuple[Book, Member] | tuple[None, None]:
    """The member's book and row, due maturing and expiries applied first, or Nones for a fan who
    is not a member. The row is locked only when something is due: reading never waits for an award."""
    if ctx.fan.member_id is None:
        return None, None
    book = Book(ctx.db, ctx.now)
    member = ctx.db.get(Member, ctx.fan.member_id)
    # Pending points whose day has come are paid here too, so 积分 never shows them waiting
    # between midnight and the hourly maturing job.
    if has_due_lots(ctx.db, member.id, ctx.now) or pending.has_due(ctx.db, member.id, ctx.now):
        member = book.lock(member.id)
        pending.mature_due(book, member)
        expire_due(book, member)
    return book, member


def _show(ctx, render) -> str:
    """The member's `render(book, member)`, after any expiry noticed just now (news too: it joins
    the passive reply before the answer); the binding offer for a fan who is not a member."""
    book, member = _member(ctx)
    if book is None:
        return not_a_member(ctx)
    text = render(book, member)
    tell_members(book, ctx)
    return text


@router.text("积分", "我的积分")
@router.click(MenuKey.MY_POINTS)
def my_points(ctx, msg):
    """Shows the balance, level, growth to the next level and the last five entries."""
    return _show(ctx, overview)


@router.text("积分明细")
@router.click(MenuKey.POINTS_DETAIL)
def points_details(ctx, msg):
    """Lists the member's last twenty points entries with their reasons."""
    return _show(ctx, details)


@router.text("签到")
@router.click(MenuKey.SIGN_IN)
def sign_in(ctx, msg):
    """Pays the sign-in rule once per day (the rule's frequency decides how often it counts)."""
    book, member = _member(ctx)
    if book is None:
        return not_a_member(ctx)
    today = ctx.now.astimezone(CST).date().isoformat()
    awards = fire(book, member.id, "sign_in", "sign_in", today)
    tell_members(book, ctx)
    if not awards:
        return "签到活动暂未开放。回复“积分”查看您的积分，或回复“帮助”查看其他服务。"
    if any(a in book.decided and (a.points or a.growth) for a in awards):
        return None       # the notice of what they got is the answer
    if any(a.status == OUTRANKED for a in awards):
        return "今天已经获得了更高的奖励，签到不再另计，明天再来签到。"
    return "今天已经签到过了，明天再来。"
