"""The sandbox's own registry of WeChat accounts and what each kind of account may call."""
from dataclasses import dataclass

from bot.sandbox import keys
from bot.sandbox.base import Backend
from bot.sandbox.errors import ApiError

ACCOUNT_TYPES = ("service", "subscription")

_VERIFIED = frozenset({("subscription", True), ("service", True)})
_VERIFIED_SERVICE = frozenset({("service", True)})

# WECHAT-PLATFORM.md §5.1 (permission matrix, mirroring Explanation_of_interface_privileges.html):
# which (type, verified) pairs may use each API group; anything else answers 48001. An unverified
# service account is not a column of that table; it gets the unverified subscription column (the
# strictest), so code built here never relies on a permission it might not have. Multi-customer-
# service is verified-service only (the old table; UNCONFIRMED for verified subscription accounts).
CAPABILITIES: dict[str, frozenset[tuple[str, bool]]] = {
    "menu": _VERIFIED,
    "cs": _VERIFIED,
    "users": _VERIFIED,
    "media": _VERIFIED,
    "mass": _VERIFIED,         # §5.1: mass send by tag, verified accounts of both types
    "kf": _VERIFIED_SERVICE,
    "qrcode": _VERIFIED_SERVICE,
    "oauth": _VERIFIED_SERVICE,
    "template": _VERIFIED_SERVICE,
}


@dataclass(frozen=True)
class Account:
    """One fake WeChat account."""

    appid: str
    secret: str
    type: str
    verified: bool
    original_id: str

    def may(self, capability: str) -> bool:
        """Whether this account may use an API group (§5.1)."""
        return (self.type, self.verified) in CAPABILITIES[capability]


class Accounts:
    """Registering accounts, checking credentials and capabilities."""

    def __init__(self, backend: Backend):
        self.b = backend

    def register(self, appid: str, secret: str, type: str, verified: bool,
                 original_id: str) -> None:
        """Create or update an account (idempotent)."""
        if type not in ACCOUNT_TYPES:
            raise ValueError(f"account type must be one of {ACCOUNT_TYPES}, not {type!r}")
        self.b.redis.hset(keys.sandbox_account(appid), mapping={
            "secret": secret, "type": type, "verified": int(bool(verified)),
            "original_id": original_id,
        })

    def get(self, appid: str | None) -> Account | None:
        """The account with that appid, or None."""
        if not appid:
            return None
        raw = self.b.redis.hgetall(keys.sandbox_account(appid))
        if not raw:
            return None
        return Account(appid=appid, secret=raw[b"secret"].decode(), type=raw[b"type"].decode(),
                       verified=raw[b"verified"] == b"1", original_id=raw[b"original_id"].decode())

    def known(self, appid: str) -> Account:
        """The account, or ValueError: test and demo controls must name a registered account."""
        account = self.get(appid)
        if account is None:
            raise ValueError(f"no sandbox account {appid!r}; call register_account first")
        return account

    def authenticate(self, appid: str | None, secret: str | None, wrong_secret: int) -> Account:
        """Check appid and secret: 41002/40013 for the appid, 41004/wrong_secret for the secret."""
        if not appid:
            raise ApiError(41002)
        account = self.get(appid)
        if account is None:
            raise ApiError(40013)
        if not secret:
            raise ApiError(41004)
        if secret != account.secret:
            raise ApiError(wrong_secret)
        return account

    def require(self, appid: str, capability: str) -> None:
        """48001 unless the account may use that API group (§5.1)."""
        account = self.get(appid)
        if account is None or not account.may(capability):
            raise ApiError(48001, f"{capability} needs {_needs(capability)}")


def _needs(capability: str) -> str:
    """Human words for who may use an API group, for the errmsg hint."""
    return "a verified service account" if CAPABILITIES[capability] == _VERIFIED_SERVICE \
        else "a verified account"
