"""access_token and JS-SDK tickets (WECHAT-PLATFORM.md §4.1, §4.12).

Two token streams per account, isolated from each other as the stable_token page says:
"token" (GET /cgi-bin/token: a new token every call) and "stable" (POST /cgi-bin/stable_token:
the same token until 5 minutes before expiry). A new token in a stream leaves the previous one
valid for 5 more minutes (Get_access_token.html: "5分钟内新老 access_token 都可使用").
"""
from typing import Any

from bot.sandbox import keys
from bot.sandbox.accounts import Accounts
from bot.sandbox.base import Backend, opaque
from bot.sandbox.errors import ApiError

TOKEN_LIFETIME = 7200
OVERLAP = 300
TICKET_TYPES = ("jsapi", "wx_card")


class Tokens:
    """Issuing and checking access tokens and JS-SDK tickets."""

    def __init__(self, backend: Backend, accounts: Accounts):
        self.b = backend
        self.accounts = accounts

    def token(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /cgi-bin/token: a new token on every call, 2000 per day (45009 after)."""
        if query.get("grant_type") != "client_credential":
            raise ApiError(40002)
        # A wrong AppSecret answers 40001 on token fetch (global return-code page, §4.15).
        account = self.accounts.authenticate(query.get("appid"), query.get("secret"), 40001)
        self.b.take_daily(account.appid, "/cgi-bin/token")
        token, expires_at = self._issue(account.appid, "token")
        return {"access_token": token, "expires_in": round(expires_at - self.b.now())}

    def stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /cgi-bin/stable_token: the same token until 5 min before expiry, or forced anew."""
        if body.get("grant_type") != "client_credential":
            raise ApiError(40002)
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise ApiError(47001, "force_refresh must be a JSON boolean")
        account = self.accounts.authenticate(body.get("appid"), body.get("secret"), 40001)
        appid = account.appid
        self.b.take_daily(appid, "/cgi-bin/stable_token")
        if force:
            self._take_force_refresh(appid)
        else:
            current = self._current(appid, "stable")
            if current is not None:
                token, record = current
                self.b.redis.incr(keys.sandbox_token_fetches(appid))
                expires_in = round(record["expires_at"] - self.b.now())
                return {"access_token": token, "expires_in": expires_in}
        token, expires_at = self._issue(appid, "stable")
        return {"access_token": token, "expires_in": round(expires_at - self.b.now())}

    def _take_force_refresh(self, appid: str) -> None:
        """Force mode: 20 per day (45009) and at least 30 s apart (45011, API minute quota)."""
        spacing = self.b.limit("stable_force_spacing_s")
        forced_key = keys.sandbox_stable_forced_at(appid)
        last = self.b.redis.get(forced_key)
        now = self.b.now()
        if last is not None and now - float(last) < spacing:
            raise ApiError(45011, f"force_refresh at most once per {spacing} s")
        self.b.take_quota(appid, "stable_force", self.b.limit("stable_force_per_day"))
        self.b.redis.set(forced_key, repr(now), ex=keys.SANDBOX_QUOTA_TTL)

    def _current(self, appid: str, stream: str) -> tuple[str, dict[str, Any]] | None:
        """The stream's token if it is over 5 minutes from expiry (stable_token rolls early)."""
        raw = self.b.redis.get(keys.sandbox_token_current(appid, stream))
        if raw is None:
            return None
        token = raw.decode()
        record = self.b.get_json(keys.sandbox_token(token))
        if record is None or record["expires_at"] - self.b.now() <= OVERLAP:
            return None
        return token, record

    def _issue(self, appid: str, stream: str) -> tuple[str, float]:
        """A new token for the stream; the previous one keeps working 5 more minutes at most."""
        now = self.b.now()
        current_key = keys.sandbox_token_current(appid, stream)
        previous = self.b.redis.get(current_key)
        if previous is not None:
            old_key = keys.sandbox_token(previous.decode())
            old = self.b.get_json(old_key)
            if old is not None:
                retire = min(old["expires_at"], now + OVERLAP)
                if old.get("retire_at") is None or old["retire_at"] > retire:
                    old["retire_at"] = retire
                    self.b.set_json(old_key, old, keys.SANDBOX_RECORD_TTL)
        token = opaque(96)
        expires_at = now + TOKEN_LIFETIME
        record = {"appid": appid, "stream": stream, "expires_at": expires_at, "retire_at": None}
        self.b.set_json(keys.sandbox_token(token), record, keys.SANDBOX_RECORD_TTL)
        self.b.redis.set(current_key, token, ex=keys.SANDBOX_RECORD_TTL)
        self.b.redis.incr(keys.sandbox_token_fetches(appid))
        self.b.redis.expire(keys.sandbox_token_fetches(appid), keys.SANDBOX_RECORD_TTL)
        return token, expires_at

    def appid_of(self, token: str | None) -> str | None:
        """The account a token was issued to, valid or not (for recording); None if unknown."""
        record = self.b.get_json(keys.sandbox_token(token)) if token else None
        return None if record is None else record["appid"]

    def check(self, token: str | None) -> str:
        """The appid of a usable token: 41001 missing, 40001 unknown/superseded, 42001 expired."""
        if not token:
            raise ApiError(41001)
        record = self.b.get_json(keys.sandbox_token(token))
        if record is None:
            raise ApiError(40001)
        now = self.b.now()
        if now >= record["expires_at"]:
            raise ApiError(42001)
        if record.get("retire_at") is not None and now >= record["retire_at"]:
            raise ApiError(40001, "a newer access_token replaced this one more than 5 minutes ago")
        return str(record["appid"])

    def fetches(self, appid: str) -> int:
        """How many times token/stable_token handed out a token to that account."""
        return int(self.b.redis.get(keys.sandbox_token_fetches(appid)) or 0)

    def ticket(self, appid: str, kind: str | None) -> dict[str, Any]:
        """GET /cgi-bin/ticket/getticket: the same ticket until it expires (7200 s), §4.12."""
        if kind not in TICKET_TYPES:
            raise ApiError(40097, "type must be jsapi or wx_card")
        key = keys.sandbox_ticket(appid, kind)
        record = self.b.get_json(key)
        now = self.b.now()
        if record is None or now >= record["expires_at"]:
            record = {"ticket": opaque(64), "expires_at": now + TOKEN_LIFETIME}
            self.b.set_json(key, record, keys.SANDBOX_RECORD_TTL)
        return {"errcode": 0, "errmsg": "ok", "ticket": record["ticket"],
                "expires_in": round(record["expires_at"] - now)}
