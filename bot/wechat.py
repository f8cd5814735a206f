"""The one place that builds WeChat API clients (wechatpy), for web and workers alike.

What wechatpy 1.8.18 gets wrong and we fix here (WECHAT-PLATFORM.md §4.1, §6.2, §7.1):
- its 40001/40014/42001 auto-retry recurses without bound (486 token fetches in a test):
  off; we refresh once and retry once, then raise;
- it keeps token expiry per process and refreshes without a lock (stampede): the token lives
  in Redis per AppID, fetched with `stable_token` by whoever holds a Redis lock;
- its HTTP calls have no timeout: every call gets one;
- its token URL and several APIs are absolute `https://api.weixin.qq.com` URLs: every URL is
  rebased onto WECHAT_API_BASE, so the sandbox (or a proxy) sees all of it.
"""
import logging
import re

import requests
from redis import Redis
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import keys
from bot.config import REAL_API_BASE

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})   # invalid / not latest / expired token (§4.15)
# §4.15: what a failure means for the caller.
NOT_RETRYABLE = {
    45015: "window closed or unfollowed",
    45047: "customer-service budget used up",
    48001: "interface not allowed for this account",
    43004: "recipient does not follow",
    43101: "recipient did not consent",
    40003: "invalid openid",
    40164: "server IP not whitelisted",
    45009: "daily API quota reached",
    45002: "content too long",
}
SYSTEM_BUSY, WINDOW_CLOSED, BUDGET_USED = -1, 45015, 45047    # §4.7, §4.15
# 45011 "api minute-quota reach limit ... retry next minute": an API's minute quota, or a second
# stable_token force refresh within 30 s (§4.1). Nothing was done; a minute later it can work.
MINUTE_QUOTA = 45011
RETRYABLE = frozenset({SYSTEM_BUSY, MINUTE_QUOTA})   # retry with backoff (jobs use rq's Retry)
# The OAuth code exchange (§4.11) carries the AppSecret and the user's code in its query too.
_TOKEN_IN_URL = re.compile(r"((?<![A-Za-z_])(?:access_token|secret|code)=)[^&\s'\"]+")


def redact(text: str) -> str:
    """`text` with every access_token, secret and code query value masked (URLs end up in logs
    and errors)."""
    return _TOKEN_IN_URL.sub(r"\1***", text)


class _RedactTokens(logging.Filter):
    """urllib3 logs each request line, query string included, at DEBUG, and werkzeug each
    request it serves, at INFO: mask the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


# werkzeug's request log (flask run, and the sandbox served over HTTP) prints the query string too.
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "werkzeug"):
    logging.getLogger(_name).addFilter(_RedactTokens())


class WeChatError(Exception):
    """A WeChat API failure, classified once: `retryable` says whether trying again can help."""

    def __init__(self, errcode: int | None, errmsg: str, path: str = ""):
        meaning = f" ({NOT_RETRYABLE[errcode]})" if errcode in NOT_RETRYABLE else ""
        super().__init__(f"{path} errcode={errcode} {errmsg}{meaning}")
        self.errcode, self.errmsg, self.path = errcode, errmsg, path
        self.answer: dict = {}      # the error's JSON body (some errors carry data, e.g. 45065's msg_id)

    @property
    def retryable(self) -> bool:
        # None: no answer (timeout, connection error, HTTP 5xx): the call may not have happened.
        return self.errcode is None or self.errcode in RETRYABLE


class TokenStore:
    """One access token per AppID in Redis, shared by every process (§4.1 "中控服务器")."""

    def __init__(self, redis: Redis, http: requests.Session, api_base: str, appid: str,
                 secret: str, timeout: float):
        self.redis, self.http, self.api_base = redis, http, api_base
        self.appid, self.secret, self.timeout = appid, secret, timeout
        self.key, self.lock_key = keys.access_token(appid), keys.access_token_lock(appid)

    def get(self) -> str:
        token = self.redis.get(self.key)
        return token.decode() if token else self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """A token other than `stale`: re-read under the lock first, fetch only if still needed."""
        with self.redis.lock(self.lock_key, timeout=keys.TOKEN_LOCK_TTL,
                             blocking_timeout=keys.TOKEN_LOCK_TTL):
            current = self.redis.get(self.key)
            if current and current.decode() != stale:
                return current.decode()     # somebody else refreshed while we waited
            result = self._stable_token(force=False)
            if stale is not None and result["access_token"] == stale:
                # The platform still hands out the token it just rejected: force a new one
                # (force mode is rationed: 20/day, ≥30 s apart — §4.1).
                result = self._stable_token(force=True)
            token = result["access_token"]
            # Refresh 5 minutes early: the platform rolls the stable token then (§4.1).
            ttl = max(int(result.get("expires_in", 7200)) - 300, 60)
            self.redis.set(self.key, token, ex=ttl)
            return token

    def _stable_token(self, force: bool) -> dict:
        url = f"{self.api_base}/cgi-bin/stable_token"
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                "force_refresh": force}
        log.info("fetching access token appid=%s force=%s", self.appid, force)
        try:
            result = self.http.post(url, json=body, timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatError(None, f"token fetch failed: {type(exc).__name__}", "/cgi-bin/stable_token") from exc
        if result.get("errcode"):
            raise WeChatError(result["errcode"], result.get("errmsg", ""), "/cgi-bin/stable_token")
        return result


class Client(WeChatClient):
    """wechatpy's client with our token store, one bounded retry and classified errors."""

    def __init__(self, appid: str, secret: str, tokens: TokenStore, http: requests.Session,
                 api_base: str, timeout: float):
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._http = http
        self._tokens = tokens
        self._api_base = api_base
        self.API_BASE_URL = f"{api_base}/cgi-bin/"

    @property
    def access_token(self) -> str:
        return self._tokens.get()

    def fetch_access_token(self):
        return {"access_token": self._tokens.refresh(stale=None)}

    def _request(self, method, url_or_endpoint, **kwargs):
        # wechatpy joins relative endpoints onto its own bases (some API groups pass an absolute
        # `api_base_url`), and some calls use absolute URLs: resolve here, then rebase.
        url = url_or_endpoint
        if not url.startswith(("http://", "https://")):
            url = kwargs.pop("api_base_url", self.API_BASE_URL) + url
        if url.startswith(REAL_API_BASE):
            url = self._api_base + url[len(REAL_API_BASE):]
        kwargs.setdefault("timeout", self.timeout)
        params = kwargs.get("params")
        if params is None or isinstance(params, dict):
            kwargs["params"] = params = dict(params or {})
        token = params.setdefault("access_token", self.access_token) if isinstance(params, dict) else None
        try:
            return self._call(method, url, kwargs)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRORS or token is None:
                raise
            # One refresh and one retry; a second token error is final (no recursion).
            log.warning("token rejected errcode=%s appid=%s; refreshing once", exc.errcode, self.appid)
            params["access_token"] = self._tokens.refresh(stale=token)
            return self._call(method, url, kwargs)

    def _call(self, method, url, kwargs):
        path = url.split("?", 1)[0].replace(self._api_base, "")
        try:
            return super()._request(method, url, **dict(kwargs))
        except WeChatClientException as exc:
            # Not chained: an HTTP error underneath carries the URL, access_token included.
            error = WeChatError(exc.errcode, redact(exc.errmsg or "HTTP error"), path)
            error.answer = _json_of(exc.response)
            raise error from None
        except requests.RequestException as exc:
            # Not chained: requests puts the URL, access_token included, in its message.
            raise WeChatError(None, redact(f"{type(exc).__name__}: {exc}"), path) from None


def _json_of(response) -> dict:
    try:
        answer = response.json() if response is not None else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def make_client(account, redis: Redis, http: requests.Session, api_base: str, timeout: float) -> Client:
    """The client for `account`; `http` carries the transport (real, or the in-process sandbox)."""
    tokens = TokenStore(redis, http, api_base, account.appid, account.secret, timeout)
    return Client(account.appid, account.secret, tokens, http, api_base, timeout)
