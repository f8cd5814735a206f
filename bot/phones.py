"""Mainland China mobile numbers: the one place that reads and masks them."""
import re

from models.member import mask_phone

# 11 digits starting 13-19 (MIIT numbering plan); "+86", "86", spaces and dashes are dropped.
MOBILE = re.compile(r"^1[3-9]\d{9}$")

__all__ = ["mask_phone", "normalize"]


def normalize(text: str | None) -> str | None:
    """The 11-digit number, or None when `text` is not a mainland mobile number."""
    if not isinstance(text, str):
        return None
    digits = re.sub(r"[\s\-()]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if MOBILE.match(digits) else None
