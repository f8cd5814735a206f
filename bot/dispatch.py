"""Routing: ordered feature routers, and conversations as "<flow>:<step>" state machines.

A handler or step is `(ctx, msg) -> Turn | str | None`. A `Turn` carries the reply and where
the conversation goes next: a state name to move there, STAY to re-ask, END to finish.
Before routing, an active conversation gets the person's messages, except "取消"/"退出" (leave
the flow) and any menu click (leave the flow, then route the click), so the menu always works.
Other events (follow, scan, unfollow, reported location) are no answer to a step: they route
as usual and leave the conversation to their handler.
An optional step that returns PASS yields: the conversation ends and the push routes as if no
step had been open (a command typed at "有推荐人吗？" is answered as that command).
"""
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from bot.capabilities import Cap
from bot.protocol import kind, raw

log = logging.getLogger(__name__)

STAY = "=stay"
END = "=end"
PASS = object()      # returned by a handler that looked and declined: routing goes on
ESCAPE_WORDS = frozenset({"取消", "退出"})
LEFT = "已退出当前操作。需要时可以从菜单重新开始。"
LEFT_NO_MENU = "已退出当前操作。需要时回复“帮助”查看可以做什么。"
# Menu events that leave a conversation: everything a person taps in the menu bar.
MENU_EVENTS = frozenset({"click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
                         "pic_photo_or_album", "pic_weixin", "location_select"})


@dataclass
class Turn:
    reply: str | None = None
    next: str | None = None       # a state, STAY, END; None leaves the conversation as it is
    # Hand the fan to WeChat's kf system: the kf account named in a transfer_customer_service
    # reply (WECHAT-PLATFORM.md §3.4, §4.10; "" for any kf). `reply` then follows as a CS message.
    transfer: str | None = None
    # A one-article news card (title, description, image, url) as the passive reply instead of
    # the text; what waits for the fan stays pending for the next channel.
    article: dict | None = None


class UnknownState(Exception):
    """A step moved to a state no flow declares (a bug: fails tests, ends the flow in production)."""


Handler = Callable[[Any, Any], "Turn | str | None"]


def text_of(msg) -> str:
    return (getattr(msg, "content", None) or "").strip()


class Router:
    """One feature's routes, tried in declaration order; the first match answers."""

    def __init__(self, name: str):
        self.name = name
        self.routes: list[tuple[Callable[[Any], bool], Handler]] = []
        self.steps: dict[str, Handler] = {}
        self.click_keys: set[str] = set()      # menu keys routed here (menus/ checks them)

    def on(self, predicate: Callable[[Any], bool]):
        def register(handler: Handler) -> Handler:
            self.routes.append((predicate, handler))
            return handler
        return register

    def text(self, *words: str):
        """Text equal to one of `words` (surrounding spaces ignored)."""
        return self.on(lambda msg: kind(msg) == "text" and text_of(msg) in words)

    def click(self, *menu_keys: str):
        self.click_keys.update(menu_keys)
        return self.on(lambda msg: kind(msg) == "click" and msg.key in menu_keys)

    def event(self, *kinds: str):
        """Events by our name: subscribe, subscribe_scan, scan, unsubscribe, location, ..."""
        return self.on(lambda msg: kind(msg) in kinds)

    def any(self):
        return self.on(lambda msg: True)

    def step(self, state: str):
        """The step that answers a push while the conversation is in `state`."""
        def register(handler: Handler) -> Handler:
            self.steps[state] = handler
            return handler
        return register

    def matches(self, msg) -> list[Handler]:
        return [handler for predicate, handler in self.routes if predicate(msg)]


class Dispatcher:
    """The routing table: routers in order, plus every flow's steps."""

    def __init__(self, routers: Iterable[Router], strict: bool = False):
        self.routers = list(routers)
        self.steps = {s: h for r in self.routers for s, h in r.steps.items()}
        self.strict = strict

    def dispatch(self, ctx, msg) -> Turn:
        conv, push = ctx.conv, kind(msg)
        before = conv.state
        if conv.state:
            if push == "text" and text_of(msg) in ESCAPE_WORDS:
                self._end(conv)
                return Turn(LEFT if ctx.caps.allows(Cap.MENU) else LEFT_NO_MENU)
            if push in MENU_EVENTS:
                self._end(conv)
            elif conv.state not in self.steps:
                # A state from an older release, or a bug: start afresh rather than trap the fan.
                log.error("unknown stored state=%s openid=%s; conversation ended", conv.state, ctx.openid)
                self._end(conv)
            elif raw(msg).get("MsgType") != "event":
                result = self.steps[conv.state](ctx, msg)
                if result is not PASS:
                    return self._apply(ctx, result, before)
                self._end(conv)
        for router in self.routers:
            for handler in router.matches(msg):
                result = handler(ctx, msg)
                if result is not PASS:
                    return self._apply(ctx, result, before)
        return Turn()

    def _apply(self, ctx, result, before: str | None) -> Turn:
        turn = result if isinstance(result, Turn) else Turn(result)
        conv = ctx.conv
        if turn.next == END:
            self._end(conv)
        elif turn.next not in (None, STAY):
            if turn.next not in self.steps:
                if self.strict:
                    raise UnknownState(turn.next)
                log.error("step moved to undeclared state=%s; conversation ended", turn.next)
                self._end(conv)
            else:
                conv.state = turn.next
        log.debug("turn account=%s openid=%s kind=%s state=%s->%s", ctx.account.slug, ctx.openid,
                 kind(ctx.msg) if ctx.msg is not None else "-", before, conv.state)
        return turn

    @staticmethod
    def _end(conv) -> None:
        conv.state = None
        conv.data = {}
