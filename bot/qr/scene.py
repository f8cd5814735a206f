"""The scene string of our codes: made and read here, and nowhere else.

WeChat hands back only the scene when someone scans (WECHAT-PLATFORM.md §3.3): as EventKey
"qrscene_<scene>" in a follow push and bare "<scene>" in a SCAN push; wechatpy strips the prefix
into `scene_id` for the first, werobot does not (§6.1). `scene_of` accepts all three.
Our codes use string scenes (QR_STR_SCENE / QR_LIMIT_STR_SCENE: 1–64 characters, §4.2), so
temporary and permanent codes share one format: "qr" + the code's row id. A link code (a
subscription fan's one-time token for the service account, WECHAT-PLATFORM.md §5.3) is
"b:" + the token: never the raw openid.
"""
import re

PREFIX = "qr"
LINK_PREFIX = "b:"
WECHAT_FOLLOW_PREFIX = "qrscene_"
# A follow from a product's barcode or image page carries "scanbarcode|<standard>|<code>" (or
# "scanimage|…") as its EventKey (wechatpy's parser, subscribe_scan_product): not a scene.
PRODUCT_PREFIXES = ("scanbarcode|", "scanimage|")
SCENE_MAX = 64                               # §4.2: scene_str is 1..64 characters
_OURS = re.compile(rf"^{PREFIX}([1-9][0-9]{{0,17}})$")


def make(code_id: int) -> str:
    return f"{PREFIX}{code_id}"


def scene_of(event_key: str | None) -> str | None:
    """The bare scene of an EventKey or scene_id (None or blank: no code was scanned)."""
    if not event_key:
        return None
    key = event_key.strip()
    if key.startswith(PRODUCT_PREFIXES):
        return None       # a follow from a product's page: no code was scanned
    if key.startswith(WECHAT_FOLLOW_PREFIX):
        key = key[len(WECHAT_FOLLOW_PREFIX):]
    return key[:SCENE_MAX] or None


def code_id(event_key: str | None) -> int | None:
    """Our code's id behind a scene, or None for a scene that is not one of ours (codes made
    in WeChat's backend or by an older system are recorded by scene, without a code)."""
    scene = scene_of(event_key)
    match = _OURS.match(scene) if scene else None
    return int(match.group(1)) if match else None


def make_link(token: str) -> str:
    return f"{LINK_PREFIX}{token}"


def link_token(event_key: str | None) -> str | None:
    """The one-time token behind a link code's scene, or None for any other scene."""
    scene = scene_of(event_key)
    if not scene or not scene.startswith(LINK_PREFIX):
        return None
    return scene[len(LINK_PREFIX):] or None
