"""Follow, unfollow and QR scans: follow state, history and first-touch attribution.

  subscribe (plain or via a code) → following, welcome text; a member earns the follow rule
  scan (already following)        → scene recorded; no reply of its own
  unsubscribe                     → marked unfollowed (kept, never deleted); any flow ends
"""
from bot.dispatch import END, Router, Turn
from bot.points.engine import fire
from bot.points.ledger import Book
from bot.points.notify import deliver

router = Router("subscribe")

DEFAULT_WELCOME = "欢迎关注！点击下方菜单开始使用，回复“帮助”查看可以做什么。"
BIND_OFFER = "回复“绑定”验证手机号，成为会员即送积分。"


def record_scene(fan, scene: str | None) -> None:
    """The latest code the fan scanned, and the first one if there was none before (first touch)."""
    if not scene:
        return
    fan.last_scene = scene
    if fan.first_scene is None:
        fan.first_scene = scene


@router.event("subscribe", "subscribe_scan")
def followed(ctx, msg):
    """Welcomes a new or returning follower and remembers the code they came through."""
    fan = ctx.fan
    fan.following = True
    fan.followed_at = ctx.now
    fan.follow_count += 1
    record_scene(fan, getattr(msg, "scene_id", None))
    if fan.member_id is not None:
        # A member following (another of) our accounts. A fan who is not a member yet gets the
        # follow rule when they bind a phone (issue #4). Keyed on the fan: a re-follow pays nothing.
        book = Book(ctx.db, ctx.now)
        fire(book, fan.member_id, "follow", "fan", fan.id)
        deliver(ctx.db, book.notices, ctx.enqueue, ctx.now, ctx.outbox)
    welcome = ctx.account.welcome_text or DEFAULT_WELCOME
    return welcome if fan.member_id is not None else f"{welcome}\n\n{BIND_OFFER}"


@router.event("scan")
def scanned(ctx, msg):
    """Records a follower's scan (a SCAN push means they follow, even if we never saw them follow)."""
    fan = ctx.fan
    if not fan.following:
        fan.following = True
        fan.followed_at = fan.followed_at or ctx.now
    record_scene(fan, msg.scene_id)
    return None


@router.event("unsubscribe")
def unfollowed(ctx, msg):
    """Marks the fan as gone; WeChat shows no reply to an unfollow (§3.3)."""
    ctx.fan.following = False
    ctx.fan.unfollowed_at = ctx.now
    return Turn(None, END)
