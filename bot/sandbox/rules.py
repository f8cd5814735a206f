"""Menu validation (WECHAT-PLATFORM.md §4.5, §4.6; api_createcustommenu, api_addconditionalmenu).

Every limit answers the global return code of its level: a top-level button's name, key, url and
type give 40018/40019/40020/40017; a sub-button's give 40025/40026/40027/40024 (the global code
page has separate codes per level). Too many or too few buttons: 40016 (top) and 40023 (sub);
a sub-button with its own sub_button: 40022. A button with sub_button has no type (40017 if it
has one). A required field that is missing counts as size 0 of that field (key, url), or as an
invalid type when the field has no size code of its own (media_id, article_id, miniprogram
appid/pagepath).
"""
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.base import utf8_len
from bot.sandbox.errors import ApiError

TOP_MAX = 3
SUB_MAX = 5
NAME_MAX_BYTES = {"top": 16, "sub": 60}   # current doc; older docs said 40 for sub-buttons
KEY_MAX_BYTES = 128
URL_MAX_BYTES = 1024
CODES = {
    "top": {"name": 40018, "key": 40019, "url": 40020, "type": 40017},
    "sub": {"name": 40025, "key": 40026, "url": 40027, "type": 40024},
}
KEY_TYPES = ("click", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
             "pic_photo_or_album", "pic_weixin", "location_select")
BUTTON_TYPES = (*KEY_TYPES, "view", "media_id", "article_id", "article_view_limited",
                "miniprogram")
# Conditional menus may match only these since WeChat dropped sex/country/province/city/language
# for privacy (65320); client_platform_type: 1 iOS, 2 Android, 3 others.
MATCHRULE_FIELDS = ("tag_id", "client_platform_type")
PLATFORMS = ("1", "2", "3")
MAX_DOMAINS = 3


def validate_menu(buttons: Any) -> list[dict[str, Any]]:
    """The button list if WeChat would accept it as a menu, else the ApiError it would answer."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= TOP_MAX:
        raise ApiError(40016, f"a menu has 1..{TOP_MAX} top-level buttons")
    for button in buttons:
        _require_object(button)
        subs = button.get("sub_button")
        if subs:
            _check_parent(button, subs)
        else:
            _check_leaf(button, "top")
    return buttons


def _require_object(button: Any) -> None:
    """47001 unless the button is a JSON object."""
    if not isinstance(button, dict):
        raise ApiError(47001, "each button must be an object")


def _check_parent(button: dict[str, Any], subs: Any) -> None:
    """A top-level button that opens 1..5 sub-buttons and has no type of its own."""
    _check_size(button.get("name"), NAME_MAX_BYTES["top"], CODES["top"]["name"])
    if button.get("type"):
        raise ApiError(40017, "a button with sub_button has no type")
    if not isinstance(subs, list) or len(subs) > SUB_MAX:
        raise ApiError(40023, f"a button has 1..{SUB_MAX} sub-buttons")
    for sub in subs:
        _require_object(sub)
        if sub.get("sub_button"):
            raise ApiError(40022, "menus have two levels only")
        _check_leaf(sub, "sub")


def _check_leaf(button: dict[str, Any], level: str) -> None:
    """A button that does something: its name, type and the fields its type needs."""
    codes = CODES[level]
    _check_size(button.get("name"), NAME_MAX_BYTES[level], codes["name"])
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise ApiError(codes["type"], f"type must be one of {', '.join(BUTTON_TYPES)}")
    if kind in KEY_TYPES:
        _check_size(button.get("key"), KEY_MAX_BYTES, codes["key"])
    if kind in ("view", "miniprogram"):
        _check_size(button.get("url"), URL_MAX_BYTES, codes["url"])
    needs = {"media_id": ("media_id",), "article_id": ("article_id",),
             "article_view_limited": ("article_id",), "miniprogram": ("appid", "pagepath")}
    for field in needs.get(kind, ()):
        if not isinstance(button.get(field), str) or not button[field]:
            raise ApiError(codes["type"], f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} button needs {field}")


def _check_size(value: Any, max_bytes: int, errcode: int) -> None:
    """errcode unless value is a string of 1..max_bytes UTF-8 bytes."""
    if not isinstance(value, str) or not 1 <= utf8_len(value) <= max_bytes:
        raise ApiError(errcode, f"must be 1..{max_bytes} bytes")


def validate_matchrule(rule: Any) -> dict[str, str]:
    """The non-empty match fields: 65320 for private fields, 65304 when nothing is left."""
    if not isinstance(rule, dict):
        raise ApiError(65304)
    present = {k: str(v) for k, v in rule.items() if v not in (None, "")}
    private = sorted(set(present) - set(MATCHRULE_FIELDS))
    if private:
        raise ApiError(65320, f"{', '.join(private)} may not be matched any more")
    if not present:
        raise ApiError(65304)
    if "client_platform_type" in present and present["client_platform_type"] not in PLATFORMS:
        raise ApiError(40097, "client_platform_type must be 1, 2 or 3")
    return present


def link_domains(buttons: list[dict[str, Any]]) -> set[str]:
    """The host names a menu links to (view and miniprogram fallback urls)."""
    leaves = [s for b in buttons for s in (b.get("sub_button") or [b])]
    return {urlsplit(b["url"]).hostname or "" for b in leaves
            if b.get("type") in ("view", "miniprogram") and b.get("url")}
