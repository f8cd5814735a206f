"""Follow, unfollow and QR scans: follow state, history, first-touch attribution.

  subscribe, plain or via a code → following; a QrEvent (follow / refollow); first touch set at
                                   the first follow through one of our codes; the code's tags;
                                   the code's welcome, else the account's ("欢迎回来！" first for a
                                   returning fan), plus the binding offer for non-members; a
                                   member earns the follow rule
  scan (already following)       → a QrEvent (scan); the code's tags and its welcome (or the
                                   account's); a scene that is not ours gets no reply of its own
  follow or scan of a link code  → the subscription fan behind the token and this fan become one
                                   member (handlers/linking.py), and are told so
  follow where user info is allowed → a job learns the fan's unionid and links the person's fans
                                   of the open platform's other accounts (WECHAT-PLATFORM.md §5.2)
  unsubscribe                    → marked unfollowed (kept, never deleted), a QrEvent crediting
                                   the fan's attributed code; any flow ends
Who is credited with what: bot/qr/attribution.py. Every scene is read by bot/qr/scene.py.
"""
from bot.capabilities import Cap
from bot.dispatch import END, Router, Turn
from bot.linking import unionids
from bot.points.engine import fire
from bot.points.ledger import Book
from bot.points.notify import tell_members
from bot.qr import attribution
from bot.tags.fan_tags import give
from handlers.linking import arrived
from handlers.wording import has_menu
from models.qr import REFOLLOW

router = Router("subscribe")

DEFAULT_WELCOME = "欢迎关注！点击下方菜单开始使用，回复“帮助”查看可以做什么。"
WELCOME_NO_MENU = "欢迎关注！回复“帮助”查看可以做什么。"
BIND_OFFER = "回复“绑定”验证手机号，成为会员即送积分。"
WELCOME_BACK = "欢迎回来！"


def record_scene(fan, scene: str | None) -> None:
    """The raw scenes: the latest one the fan scanned, and the first one (whoever's code it was)."""
    if not scene:
        return
    fan.last_scene = scene
    if fan.first_scene is None:
        fan.first_scene = scene


def event_key(msg) -> str | None:
    """The EventKey as WeChat sent it ("qrscene_…" on a follow, bare on SCAN): bot.qr.scene
    reads either, whatever the parser made of it (WECHAT-PLATFORM.md §6.1)."""
    return getattr(msg, "scene_id", None) or getattr(msg, "key", None)


def welcome_for(ctx, code) -> str:
    return (code.welcome if code is not None and code.welcome else None) or ctx.account.welcome_text \
        or (DEFAULT_WELCOME if has_menu(ctx) else WELCOME_NO_MENU)


def tag_scanner(ctx, code) -> bool:
    """The code's tags on the fan (local; the mirror job follows). True if the job was asked for."""
    if code is None or not code.tags:
        return False
    return bool(give(ctx.db, ctx.fan, list(code.tags), source=f"qr:{code.id}", enqueue=ctx.enqueue))


@router.event("subscribe", "subscribe_scan")
def followed(ctx, msg):
    """Welcomes a new or returning follower and credits the code they came through."""
    fan = ctx.fan
    touch = attribution.followed(ctx.db, ctx.account, fan, event_key(msg), ctx.now)
    fan.following = True
    fan.followed_at = ctx.now
    fan.follow_count += 1
    record_scene(fan, touch.scene)
    if not tag_scanner(ctx, touch.code) and ctx.caps.allows(Cap.USER_INFO):
        # Every follow: WeChat should show the fan's one menu-role tag (粉丝 for a new fan), so
        # the right conditional menu appears (WECHAT-PLATFORM.md §4.6); give() asked already if
        # it added tags. Tags are user management, which unverified accounts lack (§5.1).
        ctx.enqueue("workers.tags.sync_fan_tags", fan.id, queue="high", retry=(5, 15, 60))
    if fan.unionid is None and ctx.caps.allows(Cap.USER_INFO):
        # §5.2: user/info names the unionid when the account is bound to an open platform. One
        # run per account asks for every fan not asked yet, 100 a call (§4.3 batchget).
        unionids.learn_later(ctx.enqueue, ctx.account.id)
    linked = arrived(ctx, event_key(msg))
    if fan.member_id is not None:
        # A member following (another of) our accounts. A fan who is not a member yet gets the
        # follow rule when they bind a phone. Keyed on the fan: a re-follow pays nothing.
        book = Book(ctx.db, ctx.now)
        fire(book, fan.member_id, "follow", "fan", fan.id)
        tell_members(book, ctx)
    welcome = welcome_for(ctx, touch.code)
    if touch.kind == REFOLLOW:
        welcome = WELCOME_BACK + welcome
    if linked is not None:
        return f"{welcome}\n\n{linked}"
    return welcome if fan.member_id is not None else f"{welcome}\n\n{BIND_OFFER}"


@router.event("scan")
def scanned(ctx, msg):
    """A follower scanned a code: counted for it, tagged by it, welcomed by it. (A SCAN push
    means they follow, even if we never saw them follow: §3.3.)"""
    fan = ctx.fan
    if not fan.following:
        fan.following = True
        fan.followed_at = fan.followed_at or ctx.now
    touch = attribution.scanned(ctx.db, ctx.account, fan, event_key(msg), ctx.now)
    record_scene(fan, touch.scene)
    if touch.code is None:
        # A link code has its own answer; any other code not ours, nothing to add.
        return arrived(ctx, event_key(msg))
    tag_scanner(ctx, touch.code)
    return welcome_for(ctx, touch.code)


@router.event("unsubscribe")
def unfollowed(ctx, msg):
    """Marks the fan as gone; WeChat shows no reply to an unfollow (§3.3)."""
    ctx.fan.following = False
    ctx.fan.unfollowed_at = ctx.now
    attribution.unfollowed(ctx.db, ctx.fan, ctx.now)
    return Turn(None, END)
