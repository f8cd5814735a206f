"""Multi-customer-service accounts and sessions (WECHAT-PLATFORM.md §4.10).

Codes follow the kf pages' own tables (api_addkfaccount; 会话控制): 65403 bad nickname,
65404 bad kf_account format, 65405 account limit, 65406 already exists, 65401 unknown kf on the
account APIs; on the session APIs 61452 unknown kf, 61458 fan served by another kf, 61459 kf
offline, 61451 (invalid parameter) for closing a session that kf does not hold.
"""
import json
import re
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, require_dict
from bot.sandbox.errors import ApiError
from bot.sandbox.fans import Fans

# "帐号前缀@公众号微信号": prefix ≤10 of [A-Za-z0-9_], suffix the account's WeChat ID (≤30).
KF_ACCOUNT = re.compile(r"^[A-Za-z0-9_]{1,10}@[A-Za-z0-9_-]{1,30}$")
NICKNAME_MAX = 16
FIRST_KF_ID = 1001


class Kf:
    """kf accounts, their online state and their sessions with fans."""

    def __init__(self, backend: Backend, fans: Fans):
        self.b = backend
        self.fans = fans

    def accounts(self, appid: str) -> dict[str, dict[str, Any]]:
        """kf_account -> {kf_account, nickname, kf_id, online}."""
        raw = self.b.redis.hgetall(keys.sandbox_kf_accounts(appid))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def _save(self, appid: str, kf: dict[str, Any]) -> None:
        """Store one kf account."""
        self.b.redis.hset(keys.sandbox_kf_accounts(appid), kf["kf_account"],
                          json.dumps(kf, ensure_ascii=False))

    def add(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /customservice/kfaccount/add."""
        body = require_dict(body)
        account, nickname = body.get("kf_account"), body.get("nickname")
        if not isinstance(account, str) or not KF_ACCOUNT.match(account):
            raise ApiError(65404, "kf_account is prefix@wechatid, prefix ≤10 of [A-Za-z0-9_]")
        if not isinstance(nickname, str) or not 1 <= len(nickname) <= NICKNAME_MAX:
            raise ApiError(65403, f"nickname must be 1..{NICKNAME_MAX} characters")
        existing = self.accounts(appid)
        if account in existing:
            raise ApiError(65406)
        if len(existing) >= self.b.limit("kf_accounts"):
            raise ApiError(65405)
        kf_id = self.b.next_id(appid, "kf", FIRST_KF_ID)
        self._save(appid, {"kf_account": account, "nickname": nickname, "kf_id": kf_id,
                           "online": False})
        return {"errcode": 0, "errmsg": "ok"}

    def set_online(self, appid: str, kf_account: str, online: bool) -> None:
        """Play a kf agent logging in or out of the kf client."""
        kf = self.accounts(appid).get(kf_account)
        if kf is None:
            raise ValueError(f"no kf account {kf_account!r} on {appid}")
        kf["online"] = bool(online)
        self._save(appid, kf)

    def wait(self, appid: str, openid: str) -> None:
        """Play WeChat queueing a fan for a kf (after a transfer_customer_service reply)."""
        self.b.redis.zadd(keys.sandbox_kf_waiting(appid), {openid: int(self.b.now())})

    def kf_list(self, appid: str) -> dict[str, Any]:
        """GET /cgi-bin/customservice/getkflist."""
        return {"kf_list": [{"kf_account": k["kf_account"], "kf_nick": k["nickname"],
                             "kf_id": k["kf_id"], "kf_headimgurl": ""}
                            for k in self.accounts(appid).values()]}

    def online_list(self, appid: str) -> dict[str, Any]:
        """GET /cgi-bin/customservice/getonlinekflist, with each kf's accepted_case."""
        return {"kf_online_list": [
            {"kf_account": k["kf_account"], "status": 1, "kf_id": k["kf_id"],
             "accepted_case": int(self.b.redis.scard(keys.sandbox_kf_sessions(appid, name)))}
            for name, k in self.accounts(appid).items() if k["online"]]}

    def _session(self, appid: str, openid: str) -> dict[str, Any] | None:
        """The session serving a fan, or None."""
        session: dict[str, Any] | None = self.b.get_json(keys.sandbox_kf_session(appid, openid))
        return session

    def create_session(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /customservice/kfsession/create: the kf must be online and the fan free."""
        body = require_dict(body)
        kf = self.accounts(appid).get(body.get("kf_account") or "")
        if kf is None:
            raise ApiError(61452)
        openid = self.fans.require_known(appid, body.get("openid"))
        if not kf["online"]:
            raise ApiError(61459)
        session = self._session(appid, openid)
        if session is not None and session["kf_account"] != kf["kf_account"]:
            raise ApiError(61458)
        if session is None:
            self.b.set_json(keys.sandbox_kf_session(appid, openid),
                            {"kf_account": kf["kf_account"], "createtime": int(self.b.now())})
            self.b.redis.sadd(keys.sandbox_kf_sessions(appid, kf["kf_account"]), openid)
        self.b.redis.zrem(keys.sandbox_kf_waiting(appid), openid)
        return {"errcode": 0, "errmsg": "ok"}

    def close_session(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /customservice/kfsession/close."""
        body = require_dict(body)
        kf_account = body.get("kf_account") or ""
        if kf_account not in self.accounts(appid):
            raise ApiError(61452)
        openid = self.fans.require_known(appid, body.get("openid"))
        session = self._session(appid, openid)
        if session is None or session["kf_account"] != kf_account:
            raise ApiError(61451, "that kf is not serving that fan")
        self.b.redis.delete(keys.sandbox_kf_session(appid, openid))
        self.b.redis.srem(keys.sandbox_kf_sessions(appid, kf_account), openid)
        return {"errcode": 0, "errmsg": "ok"}

    def get_session(self, appid: str, openid: str | None) -> dict[str, Any]:
        """GET /customservice/kfsession/getsession?openid: empty kf_account when none."""
        openid = self.fans.require_known(appid, openid)
        session = self._session(appid, openid) or {"kf_account": "", "createtime": 0}
        return {"errcode": 0, "errmsg": "ok", **session}

    def session_list(self, appid: str, kf_account: str | None) -> dict[str, Any]:
        """GET /customservice/kfsession/getsessionlist?kf_account."""
        if not kf_account or kf_account not in self.accounts(appid):
            raise ApiError(61452)
        openids = sorted(o.decode() for o in
                         self.b.redis.smembers(keys.sandbox_kf_sessions(appid, kf_account)))
        sessions = [(o, self._session(appid, o)) for o in openids]
        return {"sessionlist": [{"createtime": s["createtime"], "openid": o}
                                for o, s in sessions if s is not None]}

    def wait_cases(self, appid: str) -> dict[str, Any]:
        """GET /customservice/kfsession/getwaitcase: fans queued and not yet taken."""
        waiting = self.b.redis.zrange(keys.sandbox_kf_waiting(appid), 0, -1, withscores=True)
        cases = [{"latest_time": int(t), "openid": o.decode()} for o, t in waiting]
        return {"count": len(cases), "waitcaselist": cases}
