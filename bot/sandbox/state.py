"""SandboxWeChat: the fake WeChat's state, shared by every process through Redis.

One object per request or job (`SandboxWeChat(redis, clock)`); it holds nothing itself. The
parts live in their own modules (tokens, fans, windows, messages, tags, menus, qrcodes, media,
kf, oauth, recorder); this class wires them and offers the controls tests and demos use.
"""
from typing import Any

from bot.sandbox import keys
from bot.clock import Clock
from bot.sandbox.accounts import Account, Accounts
from bot.sandbox.base import DEFAULT_LIMITS, Backend
from bot.sandbox.fans import Fans
from bot.sandbox.kf import Kf
from bot.sandbox.mass import Mass
from bot.sandbox.media import Media
from bot.sandbox.menus import Menus
from bot.sandbox.messages import Messages
from bot.sandbox.oauth import OAuth
from bot.sandbox.qrcodes import QrCodes
from bot.sandbox.recorder import Recorder
from bot.sandbox.tags import Tags
from bot.sandbox.tokens import Tokens
from bot.sandbox.windows import CsWindows


class SandboxWeChat:
    """The fake WeChat: its accounts, people and rules, plus controls for tests and demos."""

    def __init__(self, redis: Any, clock: Clock):
        self.backend = Backend(redis, clock)
        self.accounts = Accounts(self.backend)
        self.recorder = Recorder(self.backend)
        self.tokens = Tokens(self.backend, self.accounts)
        self.windows = CsWindows(self.backend)
        self.qr = QrCodes(self.backend)
        self.fans = Fans(self.backend, self.accounts, self.windows, self.qr)
        self.media_store = Media(self.backend)
        self.messages = Messages(self.backend, self.fans, self.windows, self.media_store)
        self.tag_store = Tags(self.backend, self.fans)
        self.menu_store = Menus(self.backend, self.fans, self.tag_store)
        self.kf = Kf(self.backend, self.fans)
        self.oauth = OAuth(self.backend, self.accounts, self.fans)
        self.mass = Mass(self.backend, self.messages, self.media_store,
                         lambda appid: getattr(self.accounts.get(appid), "type", None))

    # --- accounts and people -------------------------------------------------------------

    def register_account(self, appid: str, secret: str, type: str, verified: bool,
                         original_id: str) -> None:
        """Create or update a WeChat account ("service" or "subscription")."""
        self.accounts.register(appid, secret, type, verified, original_id)

    def account(self, appid: str) -> Account | None:
        """A registered account, or None."""
        return self.accounts.get(appid)

    def user_event(self, appid: str, openid: str, kind: str, ticket: str | None = None) -> None:
        """What a person did on their phone: message, click, follow, scan or unfollow.

        With a ticket, a follow (or a scan by a non-follower) is attributed to that QR code.
        """
        self.fans.user_event(appid, openid, kind, ticket)

    def set_unionid(self, appid: str, openid: str, unionid: str) -> None:
        """Bind a person of that account to an open-platform unionid."""
        self.fans.set_unionid(appid, openid, unionid)

    def set_kf_online(self, appid: str, kf_account: str, online: bool) -> None:
        """Log a kf agent in or out of the kf client."""
        self.kf.set_online(appid, kf_account, online)

    def kf_wait(self, appid: str, openid: str) -> None:
        """Queue a fan for a kf, as WeChat does after a transfer_customer_service reply."""
        self.kf.wait(appid, openid)

    def fan(self, appid: str, openid: str) -> dict[str, str]:
        """The sandbox's raw record of a person (following, subscribe_time, unionid, ...)."""
        return self.fans.fan(appid, openid)

    def cs_window(self, appid: str, openid: str) -> dict[str, float]:
        """A person's customer-service windows (msg/evt until times and used counts)."""
        return self.windows.state(appid, openid)

    # --- scripted failures, limits, the record ------------------------------------------

    def fail_next(self, path: str, errcode: int, times: int = 1, appid: str | None = None) -> None:
        """Make the next `times` calls of an API path answer errcode (-1: until cleared)."""
        self.recorder.fail_next(path, errcode, times, appid)

    def hang_next(self, path: str, seconds: float, appid: str | None = None, after: int = 0) -> None:
        """Make the next call of an API path (or the one after `after` more) take effect, then
        hold its answer back `seconds`."""
        self.recorder.hang_next(path, seconds, appid, after)

    def clear_failures(self) -> None:
        """Forget every scripted failure."""
        self.recorder.clear_failures()

    def set_limit(self, name: str, value: int) -> None:
        """Override one of the platform's numbers (see base.DEFAULT_LIMITS) for every process."""
        if name not in DEFAULT_LIMITS:
            raise ValueError(f"unknown limit {name!r}; known: {', '.join(DEFAULT_LIMITS)}")
        self.backend.redis.hset(keys.sandbox_limits(), name, int(value))

    def calls(self, path: str | None = None, appid: str | None = None) -> list[dict[str, Any]]:
        """Every recorded call in order: path, method, appid, query, body, errcode, at."""
        return self.recorder.calls(path, appid)

    def token_fetches(self, appid: str) -> int:
        """How many tokens token + stable_token handed out to that account."""
        return self.tokens.fetches(appid)

    def messages_to(self, appid: str, openid: str) -> list[dict[str, Any]]:
        """Messages delivered to a person: kind, msgtype, content, payload, at."""
        return self.messages.delivered(appid, openid)

    # --- inspection ------------------------------------------------------------------------

    def tags(self, appid: str) -> list[dict[str, Any]]:
        """The account's own tags: id, name, count."""
        return self.tag_store.listing(appid)

    def fan_tags(self, appid: str, openid: str) -> list[int]:
        """A person's tag ids in the order they were applied."""
        return self.fans.tag_ids(appid, openid)

    def menus(self, appid: str) -> dict[str, Any]:
        """{"menu": default or None, "conditional": [...]}."""
        return {"menu": self.menu_store.default(appid),
                "conditional": self.menu_store.conditional(appid)}

    def qrcode(self, appid: str, ticket: str) -> dict[str, Any] | None:
        """The code behind a ticket: action_name, scene_id/scene_str, permanent, expired, url."""
        return self.qr.lookup(appid, ticket)

    def qrcodes(self, appid: str) -> list[dict[str, Any]]:
        """Every code the account created, oldest first."""
        return self.qr.of(appid)

    def media(self, appid: str, media_id: str) -> dict[str, Any] | None:
        """Uploaded temporary media: type, size, filename, content_type, created_at."""
        return self.media_store.get(appid, media_id)

    def mass_finish_events(self, appid: str) -> list[dict[str, Any]]:
        """The MASSSENDJOBFINISH events WeChat would push next (each handed out once)."""
        return self.mass.finish_events(appid)

    def kf_accounts(self, appid: str) -> dict[str, dict[str, Any]]:
        """The account's kf accounts: nickname, kf_id, online."""
        return self.kf.accounts(appid)

    def reset(self) -> None:
        """Delete all sandbox state: every key starting with "sandbox:"."""
        redis = self.backend.redis
        batch: list[bytes] = []
        for key in redis.scan_iter(match=keys.sandbox_everything(), count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                redis.delete(*batch)
                batch = []
        if batch:
            redis.delete(*batch)
