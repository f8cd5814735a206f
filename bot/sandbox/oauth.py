"""OAuth2 web authorisation for H5 pages (WECHAT-PLATFORM.md §4.11; api_snsaccesstoken).

Verified service accounts only: the authorize page shows 10005 elsewhere, and the sns APIs answer
48001. Codes are single-use and live 5 minutes (40029 after). User tokens are not the account's
access_token: they live 7200 s, refresh tokens 30 days. A wrong AppSecret on the code exchange
answers 40125 (invalid appsecret), which is what the sns endpoints answer.
"""
import json
import re
from typing import Any

from bot.sandbox import keys
from bot.sandbox.accounts import Accounts
from bot.sandbox.base import Backend, opaque
from bot.sandbox.errors import ApiError
from bot.sandbox.fans import Fans

SCOPES = ("snsapi_base", "snsapi_userinfo")
CODE_LIFETIME_S = 300
TOKEN_LIFETIME_S = 7200
REFRESH_LIFETIME_S = 30 * 24 * 3600
STATE = re.compile(r"^[A-Za-z0-9]{0,128}$")   # "state ≤128 bytes [a-zA-Z0-9]"
SANDBOX_NICKNAME = "沙盒用户"


class OAuth:
    """The authorize page's checks, codes, and the /sns/ APIs."""

    def __init__(self, backend: Backend, accounts: Accounts, fans: Fans):
        self.b = backend
        self.accounts = accounts
        self.fans = fans

    def check_authorize(self, args: dict[str, str]) -> None:
        """Raise the error the authorize page would show for these query parameters."""
        account = self.accounts.get(args.get("appid"))
        if account is None:
            raise ApiError(40013)
        if not account.may("oauth") or args.get("scope") not in SCOPES:
            raise ApiError(10005)
        if not args.get("redirect_uri", "").startswith(("http://", "https://")):
            raise ApiError(10003, "redirect_uri must be an absolute http(s) URL")
        if args.get("response_type") != "code":
            raise ApiError(40097, "response_type must be code")
        if not STATE.match(args.get("state", "")):
            raise ApiError(40097, "state must be at most 128 of [a-zA-Z0-9]")

    def issue_code(self, appid: str, openid: str, scope: str, snapshot: bool = False) -> str:
        """A fresh single-use code for the person who signed in; `snapshot`: a 朋友圈快照 page's
        virtual user (the exchange then says is_snapshotuser=1, §4.11)."""
        code = opaque(24)
        self.fans.meet(appid, openid)
        self.b.set_json(keys.sandbox_oauth_code(code),
                        {"appid": appid, "openid": openid, "scope": scope, "snapshot": snapshot,
                         "issued_at": self.b.now()}, keys.SANDBOX_OAUTH_CODE_TTL)
        return code

    def exchange(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /sns/oauth2/access_token: trade a code for a user token, once."""
        account = self.accounts.authenticate(query.get("appid"), query.get("secret"), 40125)
        self.accounts.require(account.appid, "oauth")
        if query.get("grant_type") != "authorization_code":
            raise ApiError(40002)
        if not query.get("code"):
            raise ApiError(41008)
        # GETDEL: a code is consumed by its first use, even when that use fails.
        raw = self.b.redis.getdel(keys.sandbox_oauth_code(query["code"]))
        record = None if raw is None else json.loads(raw)
        if (record is None or record["appid"] != account.appid
                or self.b.now() - record["issued_at"] >= CODE_LIFETIME_S):
            raise ApiError(40029)
        refresh_token = opaque(48)
        self.b.set_json(keys.sandbox_oauth_refresh(refresh_token),
                        {**_who(record), "expires_at": self.b.now() + REFRESH_LIFETIME_S},
                        keys.SANDBOX_OAUTH_REFRESH_TTL)
        answer = self._grant(record, refresh_token)
        if record.get("snapshot"):
            answer["is_snapshotuser"] = 1
        return answer

    def _grant(self, who: dict[str, Any], refresh_token: str) -> dict[str, Any]:
        """A new user token for who, in WeChat's answer shape."""
        token = opaque(64)
        self.b.set_json(keys.sandbox_oauth_token(token),
                        {**_who(who), "expires_at": self.b.now() + TOKEN_LIFETIME_S},
                        keys.SANDBOX_RECORD_TTL)
        answer = {"access_token": token, "expires_in": TOKEN_LIFETIME_S,
                  "refresh_token": refresh_token, "openid": who["openid"], "scope": who["scope"]}
        unionid = self.fans.fan(who["appid"], who["openid"]).get("unionid")
        if who["scope"] == "snsapi_userinfo" and unionid:
            answer["unionid"] = unionid
        return answer

    def refresh(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /sns/oauth2/refresh_token: a new user token from a refresh token (30 days)."""
        appid = query.get("appid")
        if not appid:
            raise ApiError(41002)
        if self.accounts.get(appid) is None:
            raise ApiError(40013)
        if query.get("grant_type") != "refresh_token":
            raise ApiError(40002)
        rt = query.get("refresh_token") or ""
        record = self.b.get_json(keys.sandbox_oauth_refresh(rt)) if rt else None
        if record is None or record["appid"] != appid:
            raise ApiError(40030)
        if self.b.now() >= record["expires_at"]:
            raise ApiError(42002)
        return self._grant(record, rt)

    def appid_of(self, token: str | None) -> str | None:
        """The account a user token belongs to (for recording), or None."""
        record = self.b.get_json(keys.sandbox_oauth_token(token)) if token else None
        return None if record is None else record["appid"]

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        """The live user token named by access_token for that openid, else WeChat's error."""
        token = query.get("access_token")
        if not token:
            raise ApiError(41001)
        record = self.b.get_json(keys.sandbox_oauth_token(token))
        if record is None:
            raise ApiError(40001)
        if self.b.now() >= record["expires_at"]:
            raise ApiError(42001)
        if query.get("openid") != record["openid"]:
            raise ApiError(40003)
        return dict(record)

    def userinfo(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /sns/userinfo: only with snsapi_userinfo (48001 otherwise)."""
        record = self._token(query)
        if record["scope"] != "snsapi_userinfo":
            raise ApiError(48001, "snsapi_base tokens cannot read user info")
        answer = {"openid": record["openid"], "nickname": SANDBOX_NICKNAME, "sex": 0,
                  "province": "", "city": "", "country": "", "headimgurl": "", "privilege": []}
        unionid = self.fans.fan(record["appid"], record["openid"]).get("unionid")
        if unionid:
            answer["unionid"] = unionid
        return answer

    def auth(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /sns/auth: whether a user token is still good."""
        self._token(query)
        return {"errcode": 0, "errmsg": "ok"}


def _who(record: dict[str, Any]) -> dict[str, Any]:
    """The identity part of a code or token record."""
    return {"appid": record["appid"], "openid": record["openid"], "scope": record["scope"]}
