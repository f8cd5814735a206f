"""Parametric QR codes (WECHAT-PLATFORM.md §4.2; Generating_a_Parametric_QR_Code.html).

Codes we chose where WeChat's page names none: an unknown action_name or a bad expire_seconds
answers 40097 (invalid args); a missing or out-of-range scene answers 40053 (invalid action
info); a new permanent code past the 100 000 per account answers 40097 with a hint.
"""
import base64
import secrets
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, as_int, opaque, require_dict
from bot.sandbox.errors import ApiError

# action_name -> (scene field kind, permanent?)
ACTIONS: dict[str, tuple[str, bool]] = {
    "QR_SCENE": ("scene_id", False),
    "QR_STR_SCENE": ("scene_str", False),
    "QR_LIMIT_SCENE": ("scene_id", True),
    "QR_LIMIT_STR_SCENE": ("scene_str", True),
}
DEFAULT_EXPIRE_S = 60          # current doc; older docs said 30 s
MAX_EXPIRE_S = 2_592_000       # 30 days; larger values are clamped, as WeChat does
TEMP_SCENE_ID_MAX = 2**32 - 1  # "32位非0整型"
PERM_SCENE_ID_MAX = 100_000
SCENE_STR_MAX = 64


class QrCodes:
    """Creating QR codes and looking them up by ticket."""

    def __init__(self, backend: Backend):
        self.b = backend

    def create(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/qrcode/create."""
        body = require_dict(body)
        action = body.get("action_name")
        if action not in ACTIONS:
            raise ApiError(40097, f"action_name must be one of {', '.join(ACTIONS)}")
        field, permanent = ACTIONS[action]
        scene = _scene(body, field, permanent)
        if permanent:
            return self._permanent(appid, action, field, scene)
        expire = _expire_seconds(body.get("expire_seconds"))
        record = self._save(appid, action, field, scene, expire)
        return {"ticket": record["ticket"], "expire_seconds": expire, "url": record["url"]}

    def _permanent(self, appid: str, action: str, field: str, scene: int | str) -> dict[str, Any]:
        """A permanent code: the same scene gives back the same ticket and does not count twice."""
        scenes = keys.sandbox_permanent_scenes(appid)
        slot = f"{'id' if field == 'scene_id' else 'str'}:{scene}"
        existing = self.b.redis.hget(scenes, slot)
        if existing is None:
            quota = self.b.limit("permanent_qrcodes")
            if int(self.b.redis.hlen(scenes)) >= quota:
                raise ApiError(40097, f"all {quota} permanent QR codes of this account are used")
            record = self._save(appid, action, field, scene, None)
            # HSETNX: of two processes creating the same scene at once, only one ticket wins.
            if self.b.redis.hsetnx(scenes, slot, record["ticket"]):
                return {"ticket": record["ticket"], "url": record["url"]}
            existing = self.b.redis.hget(scenes, slot)
        record = self.b.get_json(keys.sandbox_qrcode(existing.decode()))
        return {"ticket": record["ticket"], "url": record["url"]}

    def _save(self, appid: str, action: str, field: str, scene: int | str,
              expire: int | None) -> dict[str, Any]:
        """Store a new code under a fresh ticket."""
        now = self.b.now()
        # Real tickets are base64 with "+", "/" and "=": callers must URL-encode them (showqrcode).
        ticket = base64.b64encode(secrets.token_bytes(60)).decode()
        record = {"ticket": ticket, "appid": appid, "action_name": action, field: scene,
                  "permanent": expire is None, "expire_seconds": expire,
                  "expire_at": None if expire is None else now + expire,
                  "url": f"http://weixin.qq.com/q/{opaque(16)}", "created_at": now}
        ttl = None if expire is None else expire + 24 * 3600
        self.b.set_json(keys.sandbox_qrcode(ticket), record, ttl)
        tickets = keys.sandbox_qrcode_tickets(appid)
        self.b.redis.rpush(tickets, ticket)
        self.b.redis.expire(tickets, keys.SANDBOX_RECORD_TTL)
        return record

    def lookup(self, appid: str, ticket: str) -> dict[str, Any] | None:
        """The code behind a ticket of that account, with "expired"; None if unknown."""
        record = self.b.get_json(keys.sandbox_qrcode(ticket))
        if record is None or record["appid"] != appid:
            return None
        record["expired"] = not record["permanent"] and self.b.now() >= record["expire_at"]
        return dict(record)

    def of(self, appid: str) -> list[dict[str, Any]]:
        """Every code the account created (still stored), oldest first."""
        tickets = self.b.redis.lrange(keys.sandbox_qrcode_tickets(appid), 0, -1)
        found = (self.lookup(appid, t.decode()) for t in tickets)
        return [code for code in found if code is not None]


def _scene(body: dict[str, Any], field: str, permanent: bool) -> int | str:
    """The validated scene value: ids 1..100000 (permanent) or 32-bit non-zero; strings 1..64."""
    info = body.get("action_info")
    scene = info.get("scene") if isinstance(info, dict) else None
    if not isinstance(scene, dict) or field not in scene:
        raise ApiError(40053, f"action_info.scene.{field} is required")
    if field == "scene_id":
        value = as_int(scene[field])
        top = PERM_SCENE_ID_MAX if permanent else TEMP_SCENE_ID_MAX
        if value is None or not 1 <= value <= top:
            raise ApiError(40053, f"scene_id must be an integer 1..{top}")
        return value
    text = scene[field]
    if not isinstance(text, str) or not 1 <= len(text) <= SCENE_STR_MAX:
        raise ApiError(40053, f"scene_str must be 1..{SCENE_STR_MAX} characters")
    return text


def _expire_seconds(value: Any) -> int:
    """Temporary code lifetime: 60 s if omitted, clamped to 30 days, positive integers only."""
    if value is None:
        return DEFAULT_EXPIRE_S
    seconds = as_int(value)
    if seconds is None or seconds <= 0:
        raise ApiError(40097, "expire_seconds must be a positive integer")
    return min(seconds, MAX_EXPIRE_S)
