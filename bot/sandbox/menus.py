"""Custom and conditional menus (WECHAT-PLATFORM.md §4.5, §4.6).

A conditional menu needs the default menu first (65303); menu/delete removes both kinds; the
newest conditional menu whose tag_id is the fan's last-applied tag wins, else the default.
A matchrule naming a tag the account does not have answers 45159 (invalid tag id).
"""
import json
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, as_int, require_dict
from bot.sandbox.errors import ApiError
from bot.sandbox.fans import Fans
from bot.sandbox.rules import MAX_DOMAINS, link_domains, validate_matchrule, validate_menu
from bot.sandbox.tags import Tags

FIRST_MENU_ID = 400_000_001


class Menus:
    """The menu APIs."""

    def __init__(self, backend: Backend, fans: Fans, tags: Tags):
        self.b = backend
        self.fans = fans
        self.tags = tags

    def default(self, appid: str) -> dict[str, Any] | None:
        """The default menu {button, menuid}, or None."""
        menu: dict[str, Any] | None = self.b.get_json(keys.sandbox_menu(appid))
        return menu

    def conditional(self, appid: str) -> list[dict[str, Any]]:
        """The conditional menus {button, matchrule, menuid}, oldest first."""
        raw = self.b.redis.hgetall(keys.sandbox_conditional_menus(appid))
        menus = [json.loads(v) for v in raw.values()]
        return sorted(menus, key=lambda m: int(m["menuid"]))

    def create(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/menu/create: replaces the default menu."""
        buttons = validate_menu(require_dict(body).get("button"))
        menuid = self.b.next_id(appid, "menu", FIRST_MENU_ID)
        self.b.set_json(keys.sandbox_menu(appid), {"button": buttons, "menuid": menuid})
        return {"errcode": 0, "errmsg": "ok"}

    def get(self, appid: str) -> dict[str, Any]:
        """GET /cgi-bin/menu/get: 46003 when there is no menu."""
        menu = self.default(appid)
        if menu is None:
            raise ApiError(46003)
        return {"menu": menu, "conditionalmenu": self.conditional(appid)}

    def delete(self, appid: str) -> dict[str, Any]:
        """GET /cgi-bin/menu/delete: removes the default and every conditional menu."""
        self.b.redis.delete(keys.sandbox_menu(appid), keys.sandbox_conditional_menus(appid))
        return {"errcode": 0, "errmsg": "ok"}

    def add_conditional(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/menu/addconditional: returns the new menuid."""
        body = require_dict(body)
        if self.default(appid) is None:
            raise ApiError(65303)
        buttons = validate_menu(body.get("button"))
        rule = validate_matchrule(body.get("matchrule"))
        if "tag_id" in rule and as_int(rule["tag_id"]) not in self.tags.names(appid):
            raise ApiError(45159, f"tag {rule['tag_id']} does not exist")
        domains = link_domains(buttons).union(*(link_domains(m["button"])
                                                for m in self.conditional(appid)))
        if len(domains) > MAX_DOMAINS:
            raise ApiError(65316)
        menuid = self.b.next_id(appid, "menu", FIRST_MENU_ID)
        menu = {"button": buttons, "matchrule": rule, "menuid": menuid}
        self.b.redis.hset(keys.sandbox_conditional_menus(appid), menuid,
                          json.dumps(menu, ensure_ascii=False))
        # WeChat answers the menuid as a string ({"menuid":"208379533"}).
        return {"menuid": str(menuid)}

    def del_conditional(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/menu/delconditional: 65301 for an unknown menuid."""
        menuid = as_int(require_dict(body).get("menuid"))
        if menuid is None or not self.b.redis.hdel(keys.sandbox_conditional_menus(appid), menuid):
            raise ApiError(65301)
        return {"errcode": 0, "errmsg": "ok"}

    def try_match(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/menu/trymatch: the menu that fan would see."""
        user_id = require_dict(body).get("user_id")
        if not isinstance(user_id, str) or not self.fans.fan(appid, user_id):
            raise ApiError(65302)
        default = self.default(appid)
        if default is None:
            raise ApiError(46003)
        tag_ids = self.fans.tag_ids(appid, user_id)
        if tag_ids:
            last = str(tag_ids[-1])
            for menu in reversed(self.conditional(appid)):
                if menu["matchrule"].get("tag_id") == last:
                    return {"button": menu["button"]}
        return {"button": default["button"]}
