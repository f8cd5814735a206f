"""The custom menus as data: one for fans, and conditional ones for members and staff, matched
by the menu-role tag (bot/binding/roles.py; WECHAT-PLATFORM.md §4.5, §4.6). Handlers import MenuKey,
never literal strings (STYLE.md 7.9). An account may have menus of its own in ACCOUNT_MENUS;
the others get DEFAULT. `flask --app wsgi menus push|diff --account SLUG` (menus/push.py).
"""
from models.tag import FAN_ROLE, MEMBER_ROLE, STAFF_ROLE


class MenuKey:
    MY_POINTS = "MY_POINTS"
    POINTS_DETAIL = "POINTS_DETAIL"
    SIGN_IN = "SIGN_IN"
    BIND_PHONE = "BIND_PHONE"
    ME = "ME"
    HELP = "HELP"
    CONTACT_AGENT = "CONTACT_AGENT"      # 联系客服: a conversation with a person
    POSTER = "POSTER"
    RECRUIT_STATS = "RECRUIT_STATS"      # 拉新数据: a store manager's chart


def click(name: str, key: str) -> dict:
    return {"type": "click", "name": name, "key": key}


_HELP = click("帮助", MenuKey.HELP)
_CONTACT_AGENT = click("联系客服", MenuKey.CONTACT_AGENT)     # 12 bytes: top names take 16 (§4.5)

DEFAULT = {
    FAN_ROLE: [click("成为会员", MenuKey.BIND_PHONE), _CONTACT_AGENT, _HELP],
    MEMBER_ROLE: [
        {"name": "会员中心", "sub_button": [click("我的积分", MenuKey.MY_POINTS),
                                           click("积分明细", MenuKey.POINTS_DETAIL),
                                           click("每日签到", MenuKey.SIGN_IN),
                                           click("我的信息", MenuKey.ME)]},
        _CONTACT_AGENT,
        _HELP,
    ],
    STAFF_ROLE: [
        {"name": "员工中心", "sub_button": [click("我的海报", MenuKey.POSTER), click("拉新数据", MenuKey.RECRUIT_STATS),
                                           click("我的信息", MenuKey.ME), click("员工帮助", MenuKey.HELP)]},
        {"name": "会员中心", "sub_button": [click("我的积分", MenuKey.MY_POINTS),
                                           click("每日签到", MenuKey.SIGN_IN)]},
    ],
}
ACCOUNT_MENUS: dict[str, dict[str, list]] = {}     # slug: menus like DEFAULT


MALL_BUTTON = "积分商城"


def menus_for(slug: str, mall_url: str | None = None) -> dict[str, list]:
    """The menus of one account, by menu role (FAN_ROLE is the default menu). With `mall_url`
    (only a verified service account has OAuth, WECHAT-PLATFORM.md §4.11) fans and members get a
    积分商城 VIEW button opening the mall, which starts the OAuth round trip itself."""
    menus = ACCOUNT_MENUS.get(slug, DEFAULT)
    return with_mall(menus, mall_url) if mall_url else menus


def with_mall(menus: dict[str, list], url: str) -> dict[str, list]:
    """A copy of `menus` with the mall's VIEW button for fans (under 更多, beside 帮助: three top
    buttons at most) and for members (the fifth of 会员中心: five at most, §4.5)."""
    view = {"type": "view", "name": MALL_BUTTON, "url": url}
    out = {role: [dict(b, sub_button=list(b["sub_button"])) if "sub_button" in b else dict(b)
                  for b in buttons] for role, buttons in menus.items()}
    fan = out.get(FAN_ROLE)
    if fan and len(fan) == 3 and "sub_button" not in fan[-1]:
        fan[-1] = {"name": "更多", "sub_button": [view, fan[-1]]}
    elif fan is not None and len(fan) < 3:
        fan.append(view)
    for button in out.get(MEMBER_ROLE, []):
        if "sub_button" in button and len(button["sub_button"]) < 5:
            button["sub_button"].append(view)
            break
    return out


def keys_in(menus: dict[str, list]) -> set[str]:
    """Every click key of a set of menus."""
    found = set()
    for buttons in menus.values():
        for button in buttons:
            for leaf in button.get("sub_button", [button]):
                if leaf.get("type") == "click":
                    found.add(leaf["key"])
    return found


def button_name(menus: dict[str, list], key: str) -> str | None:
    """The name a person sees on the button with click key `key` (the first menu role that has
    it, the fan menu first), or None. Texts that point at a button take its name from here, so
    a renamed button never leaves the chat pointing at a name nobody can find."""
    for buttons in menus.values():
        for button in buttons:
            for leaf in button.get("sub_button", [button]):
                if leaf.get("type") == "click" and leaf.get("key") == key:
                    return leaf["name"]
    return None


def button_names(menus: dict[str, list]) -> set[str]:
    """Every name shown in a set of menus (top-level buttons and their sub buttons)."""
    return {leaf["name"] for buttons in menus.values() for button in buttons
            for leaf in [button, *button.get("sub_button", [])]}
