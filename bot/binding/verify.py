"""Verification codes for phone binding: issue, resend, check, and the daily caps.

The code lives in Redis with the time it expires (the injected clock decides, so tests and the
sandbox can move time); the key's TTL only cleans up. Caps are per China day.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from bot import keys
from bot.clock import CST

CODE_LIFE = keys.SMS_CODE_TTL     # 5 minutes
RESEND_AFTER = 60                 # seconds before "重发" may send another code
DAILY_PER_PHONE = 10
DAILY_PER_FAN = 10


@dataclass
class Issued:
    sent_at: str | None            # names the code for the sending job; None when refused
    refusal: str | None = None     # what to tell the fan when refused
    wait: bool = False             # refused only for now (the 60 s between codes)


class Codes:
    """One fan's verification codes on one account."""

    def __init__(self, redis: Redis, account: str, openid: str, now: datetime):
        self.redis, self.account, self.openid, self.now = redis, account, openid, now
        self.key = keys.sms_code(account, openid)

    def _current(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key).items()}

    def wait_before_resend(self) -> int:
        """Seconds until another code may be sent (0: now)."""
        sent = self._current().get("sent_at")
        return 0 if sent is None else max(0, int(float(sent) + RESEND_AFTER - self.now.timestamp() + 0.999))

    def issue(self, phone: str) -> Issued:
        """A new 6-digit code for `phone`: not within 60 s of the last one (whatever flow asked),
        and not past a daily cap (10 per phone, 10 per fan). The counters are taken first and
        given back on refusal, so concurrent requests cannot pass a cap together."""
        wait = self.wait_before_resend()
        if wait:
            return Issued(None, f"请 {wait} 秒后再获取验证码。", wait=True)
        day = self.now.astimezone(CST).strftime("%Y%m%d")
        per_phone, per_fan = keys.sms_daily_phone(phone, day), keys.sms_daily_fan(self.account, self.openid, day)
        pipe = self.redis.pipeline()
        for counter in (per_phone, per_fan):
            pipe.incr(counter)
            pipe.expire(counter, keys.SMS_DAILY_TTL)
        phone_count, _, fan_count, _ = pipe.execute()
        if phone_count > DAILY_PER_PHONE or fan_count > DAILY_PER_FAN:
            self.redis.decr(per_phone)
            self.redis.decr(per_fan)
            return Issued(None, "这个手机号今天收到的验证码已达上限，请明天再试。" if phone_count > DAILY_PER_PHONE
                          else "您今天获取验证码的次数已达上限，请明天再试。")
        sent_at = f"{self.now.timestamp():.6f}"
        code = f"{secrets.randbelow(10**6):06d}"
        pipe = self.redis.pipeline()
        pipe.delete(self.key)
        pipe.hset(self.key, mapping={"phone": phone, "code": code, "sent_at": sent_at,
                                     "expires": self.now.timestamp() + CODE_LIFE})
        pipe.expire(self.key, CODE_LIFE + 60)
        pipe.execute()
        return Issued(sent_at)

    def live_for(self, phone: str) -> bool:
        """Whether an unexpired code for `phone` is out (starting over need not send another)."""
        current = self._current()
        return current.get("phone") == phone and float(current["expires"]) > self.now.timestamp()

    def check(self, typed: str) -> str:
        """"ok" (and the code is used up), "wrong", or "expired"."""
        current = self._current()
        if not current or float(current["expires"]) <= self.now.timestamp():
            return "expired"
        if not secrets.compare_digest(typed.encode(), current["code"].encode()):
            return "wrong"
        self.redis.delete(self.key)
        return "ok"

    def phone(self) -> str | None:
        return self._current().get("phone")

    def clear(self) -> None:
        self.redis.delete(self.key)
