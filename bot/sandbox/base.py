"""What every part of the sandbox shares: Redis, the clock, JSON helpers, ids and limits."""
import json
import secrets
from datetime import datetime
from typing import Any

from bot.sandbox import keys
from bot.clock import CST, Clock
from bot.sandbox.errors import ApiError

# The platform's numbers (WECHAT-PLATFORM.md §4); tests and demos may lower them with
# SandboxWeChat.set_limit() so a quota can be reached in a few calls. "daily:<path>" entries are
# per-API daily quotas from API_Call_Limits.html, counted per account.
DEFAULT_LIMITS: dict[str, int] = {
    "daily:/cgi-bin/token": 2000,
    "daily:/cgi-bin/stable_token": 500_000,
    "stable_force_per_day": 20,
    "stable_force_spacing_s": 30,
    "daily:/cgi-bin/menu/create": 1000,
    "daily:/cgi-bin/menu/get": 10_000,
    "daily:/cgi-bin/menu/delete": 1000,
    "daily:/cgi-bin/menu/addconditional": 2000,
    "daily:/cgi-bin/menu/delconditional": 2000,
    "daily:/cgi-bin/menu/trymatch": 20_000,
    "daily:/cgi-bin/qrcode/create": 100_000,
    "daily:/cgi-bin/user/get": 500,
    "daily:/cgi-bin/user/info": 5_000_000,
    "daily:/cgi-bin/user/info/updateremark": 10_000,
    "daily:/cgi-bin/message/custom/send": 500_000,
    "daily:/cgi-bin/message/template/send": 100_000,
    "permanent_qrcodes": 100_000,
    "tags_per_account": 100,
    "tags_per_fan": 20,
    "kf_accounts": 100,
}


class Backend:
    """Redis plus the injected clock, with the few helpers every sandbox part uses."""

    def __init__(self, redis: Any, clock: Clock):
        self.redis = redis
        self.clock = clock

    def now(self) -> float:
        """Current epoch seconds from the injected clock."""
        return self.clock.timestamp()

    def get_json(self, key: str) -> Any:
        """The JSON value stored at key, or None."""
        raw = self.redis.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: int | None = None) -> None:
        """Store value as JSON, with a TTL in seconds when given."""
        self.redis.set(key, json.dumps(value, ensure_ascii=False), ex=ttl)

    def next_id(self, appid: str, name: str, start: int) -> int:
        """The next id of a per-account sequence: start, start + 1, ..."""
        return start - 1 + int(self.redis.incr(keys.sandbox_seq(appid, name)))

    def limit(self, name: str) -> int:
        """A numeric limit: the override set by set_limit, else the platform's value."""
        raw = self.redis.hget(keys.sandbox_limits(), name)
        return int(raw) if raw is not None else DEFAULT_LIMITS[name]

    def day(self) -> str:
        """Today's date in Beijing time, the day WeChat's daily quotas count by."""
        # WeChat resets daily quotas at midnight Beijing time (API_Call_Limits.html).
        return datetime.fromtimestamp(self.now(), CST).strftime("%Y%m%d")

    def take_quota(self, appid: str, name: str, limit: int) -> None:
        """Count one call against a daily quota; 45009 once the quota is used up."""
        key = keys.sandbox_quota(appid, name, self.day())
        used = int(self.redis.incr(key))
        self.redis.expire(key, keys.SANDBOX_QUOTA_TTL)
        if used > limit:
            raise ApiError(45009, f"{name}: {limit} per day")

    def take_daily(self, appid: str, path: str) -> None:
        """Count one call of an API that has a daily quota (API_Call_Limits.html)."""
        name = f"daily:{path}"
        if name in DEFAULT_LIMITS:
            self.take_quota(appid, name, self.limit(name))


def opaque(nbytes: int = 48) -> str:
    """A random URL-safe string, the shape of WeChat's tokens, codes and ids."""
    return secrets.token_urlsafe(nbytes)


def utf8_len(text: str) -> int:
    """Length in UTF-8 bytes, which is how WeChat measures names, keys and text."""
    return len(text.encode("utf-8"))


def require_dict(body: Any) -> dict[str, Any]:
    """The parsed JSON body as a dict; 47001 (data format error) for anything else."""
    if not isinstance(body, dict):
        raise ApiError(47001, "expected a JSON object")
    return body


def as_int(value: Any) -> int | None:
    """value as an int if it is one (or a decimal string of one), else None; bools are not ints."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
