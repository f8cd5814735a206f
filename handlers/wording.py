"""Texts that point at the menu: the names come from the account's menu definition, and an
account that cannot have menus (unverified: WECHAT-PLATFORM.md §5.1) is never told to use one."""
from bot.capabilities import Cap
from menus.definition import button_name, menus_for


def has_menu(ctx) -> bool:
    return ctx.caps.allows(Cap.MENU)


def button(ctx, key: str) -> str | None:
    """The name of the account's button for `key`, or None when the fan sees no such button."""
    if not has_menu(ctx):
        return None
    return button_name(menus_for(ctx.account.slug), key)


def or_button(ctx, key: str) -> str:
    """"或点击菜单“成为会员”" when the button exists, else nothing."""
    name = button(ctx, key)
    return f"或点击菜单“{name}”" if name else ""
