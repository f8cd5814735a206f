"""What each account may call, by type and verification (WECHAT-PLATFORM.md §5.1).

Code asks `caps.allows(X)` before choosing a path, and `caps.require(X)` where a call is the
only way: in tests (strict) a missing capability raises; in production it is logged and the
caller takes its fallback (e.g. no menu push on an unverified subscription account).
"""
import logging
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


class Cap(str, Enum):
    PASSIVE_REPLY = "passive_reply"
    MENU = "menu"                        # custom menu via API
    CONDITIONAL_MENU = "conditional_menu"
    CUSTOM_MESSAGE = "custom_message"    # message/custom/send (客服消息)
    KF = "kf"                            # multi-customer-service accounts and sessions
    USER_INFO = "user_info"              # user info / list / tags / remarks
    MEDIA = "media"                      # media upload → image/voice replies
    MASS_SEND = "mass_send"
    QR_CODE = "qr_code"                  # parametric QR codes
    OAUTH = "oauth"                      # 网页授权
    TEMPLATE = "template"                # template messages
    SUBSCRIBE_NOTICE = "subscribe_notice"  # 订阅通知 (bizsend)
    LOCATION_REPORT = "location_report"  # reported LOCATION events


# §5.1 permission matrix, column by column. Multi-customer-service on a verified subscription
# account is UNCONFIRMED there (the old table says service only), so we do not rely on it.
_UNVERIFIED_SUBSCRIPTION = frozenset({Cap.PASSIVE_REPLY})
_VERIFIED_SUBSCRIPTION = _UNVERIFIED_SUBSCRIPTION | {
    Cap.MENU, Cap.CONDITIONAL_MENU, Cap.CUSTOM_MESSAGE, Cap.USER_INFO, Cap.MEDIA, Cap.MASS_SEND}
_VERIFIED_SERVICE = frozenset(Cap)
# An unverified service account is not in the matrix; like an unverified subscription account
# it gets none of the verified-only interfaces.
_UNVERIFIED_SERVICE = _UNVERIFIED_SUBSCRIPTION


class CapabilityMissing(Exception):
    """Asked for an interface the account may not use (WeChat would answer 48001)."""


@dataclass(frozen=True)
class Capabilities:
    type: str
    verified: bool
    strict: bool = False

    @property
    def granted(self) -> frozenset:
        if self.type == "service":
            return _VERIFIED_SERVICE if self.verified else _UNVERIFIED_SERVICE
        return _VERIFIED_SUBSCRIPTION if self.verified else _UNVERIFIED_SUBSCRIPTION

    def allows(self, cap: Cap) -> bool:
        return cap in self.granted

    def require(self, cap: Cap) -> bool:
        """True if allowed; else raise (strict) or log and return False (the caller falls back)."""
        if self.allows(cap):
            return True
        what = f"{'verified' if self.verified else 'unverified'} {self.type} account lacks {cap.value}"
        if self.strict:
            raise CapabilityMissing(what)
        log.warning("capability missing: %s", what)
        return False


def for_account(account, strict: bool = False) -> Capabilities:
    return Capabilities(account.type, account.verified, strict)
