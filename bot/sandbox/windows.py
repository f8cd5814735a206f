"""Customer-service windows: when an account may message a fan (WECHAT-PLATFORM.md §4.7).

Current rules (Customer_Service_Messages.html; kf/intro.md): a user message allows 5 messages
within 48 h; a menu click (click/scancode types), a follow or a QR scan allows 3 within 1 min.
They are two separate budgets. A send spends the 1-minute budget first while that window is open
and has messages left, else the 48-hour one. A new trigger restarts its own window with a fresh
budget. No open window: 45015; open window(s) with nothing left: 45047.
"""
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend
from bot.sandbox.errors import ApiError

MESSAGE_WINDOW_S = 48 * 3600
MESSAGE_BUDGET = 5
EVENT_WINDOW_S = 60
EVENT_BUDGET = 3


class CsWindows:
    """Opening windows on user actions and spending them on customer-service sends."""

    def __init__(self, backend: Backend):
        self.b = backend

    def open_message(self, appid: str, openid: str) -> None:
        """The fan sent a message: 5 messages within 48 h, from now."""
        self._open(appid, openid, "msg", MESSAGE_WINDOW_S)

    def open_event(self, appid: str, openid: str) -> None:
        """The fan clicked, followed or scanned: 3 messages within 1 min, from now."""
        self._open(appid, openid, "evt", EVENT_WINDOW_S)

    def _open(self, appid: str, openid: str, which: str, seconds: int) -> None:
        """Restart one window with a fresh budget."""
        key = keys.sandbox_cs_window(appid, openid)
        self.b.redis.hset(key, mapping={f"{which}_until": repr(self.b.now() + seconds),
                                        f"{which}_used": 0})
        self.b.redis.expire(key, keys.SANDBOX_CS_WINDOW_TTL)

    def close(self, appid: str, openid: str) -> None:
        """The fan unfollowed: nothing is open any more."""
        self.b.redis.delete(keys.sandbox_cs_window(appid, openid))

    def spend(self, appid: str, openid: str) -> None:
        """Spend one message of the fan's open windows, or raise 45015 / 45047."""
        key = keys.sandbox_cs_window(appid, openid)

        def attempt(pipe: Any) -> None:
            # WATCH/MULTI: gunicorn and rq workers may send to one fan at the same moment.
            raw = {k.decode(): float(v) for k, v in pipe.hgetall(key).items()}
            now = self.b.now()
            evt_open = now < raw.get("evt_until", 0)
            msg_open = now < raw.get("msg_until", 0)
            if evt_open and raw.get("evt_used", 0) < EVENT_BUDGET:
                field = "evt_used"
            elif msg_open and raw.get("msg_used", 0) < MESSAGE_BUDGET:
                field = "msg_used"
            elif evt_open or msg_open:
                raise ApiError(45047)
            else:
                raise ApiError(45015, "no customer-service window is open for this fan")
            pipe.multi()
            pipe.hincrby(key, field, 1)

        self.b.redis.transaction(attempt, key)

    def state(self, appid: str, openid: str) -> dict[str, float]:
        """The raw window hash (until times and used counts), for tests and demos."""
        raw = self.b.redis.hgetall(keys.sandbox_cs_window(appid, openid))
        return {k.decode(): float(v) for k, v in raw.items()}
