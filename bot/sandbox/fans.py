"""The people: what they did on their phones, and the user APIs (WECHAT-PLATFORM.md §4.3).

Openids never cross accounts: an openid the account has never seen answers 40003. A message,
click or scan from someone who does not follow makes them follow first (WeChat only lets
followers chat with an account or use its menu; a scan by a non-follower is a follow); that
implicit follow opens no window of its own.
"""
from typing import Any

from bot.sandbox import keys
from bot.sandbox.accounts import Accounts
from bot.sandbox.base import Backend, require_dict
from bot.sandbox.errors import ApiError
from bot.sandbox.qrcodes import QrCodes
from bot.sandbox.windows import CsWindows

USER_EVENTS = ("message", "click", "follow", "scan", "unfollow")
BATCH_MAX = 100          # user/info/batchget
PAGE_MAX = 10_000        # user/get and user/tag/get


class Fans:
    """Follow state, unionids and the user-info APIs."""

    def __init__(self, backend: Backend, accounts: Accounts, windows: CsWindows, qrcodes: QrCodes):
        self.b = backend
        self.accounts = accounts
        self.windows = windows
        self.qrcodes = qrcodes

    def user_event(self, appid: str, openid: str, kind: str, ticket: str | None = None) -> None:
        """Play what a person did on their phone: follow state and CS windows (§4.7)."""
        if kind not in USER_EVENTS:
            raise ValueError(f"kind must be one of {USER_EVENTS}, not {kind!r}")
        self.accounts.known(appid)
        code = self._scanned(appid, ticket) if ticket else None
        if kind == "unfollow":
            self.b.redis.hset(keys.sandbox_fan(appid, openid), "following", 0)
            self.b.redis.zrem(keys.sandbox_followers(appid), openid)
            self.windows.close(appid, openid)
            return
        if kind == "follow" or not self.is_following(appid, openid):
            self._follow(appid, openid, code)
        if kind == "message":
            self.windows.open_message(appid, openid)
        elif kind in ("click", "follow", "scan"):
            self.windows.open_event(appid, openid)

    def _scanned(self, appid: str, ticket: str) -> dict[str, Any]:
        """The QR code a person scanned; an unknown or expired code opens nothing on WeChat."""
        code = self.qrcodes.lookup(appid, ticket)
        if code is None or code["expired"]:
            raise ValueError(f"ticket {ticket!r} is unknown to {appid} or has expired")
        return code

    def _follow(self, appid: str, openid: str, code: dict[str, Any] | None) -> None:
        """Mark the person as following since now, attributed to a QR code if they scanned one."""
        fields: dict[str, Any] = {
            "following": 1, "subscribe_time": int(self.b.now()),
            "subscribe_scene": "ADD_SCENE_QR_CODE" if code else "ADD_SCENE_OTHERS",
            "qr_scene": (code or {}).get("scene_id", 0),
            "qr_scene_str": (code or {}).get("scene_str", ""),
        }
        self.b.redis.hset(keys.sandbox_fan(appid, openid), mapping=fields)
        self.b.redis.zadd(keys.sandbox_followers(appid), {openid: 0})

    def meet(self, appid: str, openid: str) -> None:
        """Make an openid known to the account without following (e.g. OAuth sign-in)."""
        self.b.redis.hsetnx(keys.sandbox_fan(appid, openid), "following", 0)

    def set_unionid(self, appid: str, openid: str, unionid: str) -> None:
        """Bind the person to an open-platform unionid (§5.2)."""
        self.accounts.known(appid)
        self.meet(appid, openid)
        self.b.redis.hset(keys.sandbox_fan(appid, openid), "unionid", unionid)

    def fan(self, appid: str, openid: str) -> dict[str, str]:
        """The raw fan hash (empty if the account never saw that openid)."""
        raw = self.b.redis.hgetall(keys.sandbox_fan(appid, openid))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def is_following(self, appid: str, openid: str) -> bool:
        """Whether the person follows the account now."""
        return self.b.redis.hget(keys.sandbox_fan(appid, openid), "following") == b"1"

    def require_known(self, appid: str, openid: Any) -> str:
        """The openid if the account knows it; 40003 otherwise (e.g. another account's openid)."""
        if not isinstance(openid, str) or not openid or not self.fan(appid, openid):
            raise ApiError(40003)
        return openid

    def tag_ids(self, appid: str, openid: str) -> list[int]:
        """The fan's tag ids, in the order they were applied."""
        return [int(t) for t in self.b.redis.lrange(keys.sandbox_fan_tags(appid, openid), 0, -1)]

    def info(self, appid: str, openid: Any) -> dict[str, Any]:
        """GET /cgi-bin/user/info: no nickname or avatar since 2021-12-27 (api_userinfo)."""
        openid = self.require_known(appid, openid)
        fan = self.fan(appid, openid)
        if fan.get("following") != "1":
            return {"subscribe": 0, "openid": openid}
        answer: dict[str, Any] = {"subscribe": 1, "openid": openid,
                                  "subscribe_time": int(fan["subscribe_time"])}
        if fan.get("unionid"):
            answer["unionid"] = fan["unionid"]
        answer.update({"remark": fan.get("remark", ""), "groupid": 0,
                       "tagid_list": self.tag_ids(appid, openid),
                       "subscribe_scene": fan["subscribe_scene"],
                       "qr_scene": int(fan.get("qr_scene", 0)),
                       "qr_scene_str": fan.get("qr_scene_str", "")})
        return answer

    def batch_info(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/user/info/batchget: at most 100 per call (40032 beyond)."""
        users = require_dict(body).get("user_list")
        if not isinstance(users, list) or not 1 <= len(users) <= BATCH_MAX:
            raise ApiError(40032, f"user_list must hold 1..{BATCH_MAX} entries")
        openids = [u.get("openid") if isinstance(u, dict) else None for u in users]
        return {"user_info_list": [self.info(appid, openid) for openid in openids]}

    def followers(self, appid: str, next_openid: str | None) -> dict[str, Any]:
        """GET /cgi-bin/user/get: followers, 10 000 per page, continuing after next_openid."""
        key = keys.sandbox_followers(appid)
        low = f"({next_openid}" if next_openid else "-"
        page = [o.decode() for o in self.b.redis.zrangebylex(key, low, "+", start=0, num=PAGE_MAX)]
        answer: dict[str, Any] = {"total": int(self.b.redis.zcard(key)), "count": len(page),
                                  "next_openid": page[-1] if page else ""}
        if page:
            answer["data"] = {"openid": page}
        return answer

    def update_remark(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/user/info/updateremark."""
        body = require_dict(body)
        openid = self.require_known(appid, body.get("openid"))
        self.b.redis.hset(keys.sandbox_fan(appid, openid), "remark", str(body.get("remark", "")))
        return {"errcode": 0, "errmsg": "ok"}
