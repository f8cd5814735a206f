"""What the bot says when nothing else answered: never silence for something a person did."""
from bot.dispatch import Router
from bot.protocol import PERSON_MESSAGES, kind
from handlers.wording import has_menu

router = Router("common")

FALLBACK = "没太明白您的意思。请点击下方菜单选择服务，或回复“帮助”。"
FALLBACK_NO_MENU = "没太明白您的意思。回复“帮助”查看可以做什么。"
UNKNOWN_MENU = "这个功能还在准备中，暂时用不了。回复“帮助”查看现在可以做什么。"
@router.event("click")
def unknown_menu(ctx, msg):
    """A menu key no feature handles yet still gets an answer."""
    return UNKNOWN_MENU


@router.on(lambda msg: kind(msg) in PERSON_MESSAGES)
def fallback(ctx, msg):
    """Points at the menu when nothing understood the message; unknown types (file,
    mini-program cards) get an empty 200 (§3.2)."""
    return FALLBACK if has_menu(ctx) else FALLBACK_NO_MENU
