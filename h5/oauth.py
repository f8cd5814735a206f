"""WeChat OAuth (snsapi_base) for H5 pages: the round trip that tells us who opened a page.

  page without a session --> WeChat's authorize page (state: a signed nonce bound to this
  browser) --> /h5/<account>/oauth?code&state --> code exchanged once --> session --> the page

WECHAT-PLATFORM.md §4.11 and §7 item 11: a code is single-use and WeChat's webview may hit the
redirect twice, so the first hit exchanges it and the second finds that result (no 40163); a
state is signed (a forged one is refused) and answers one code (a replay brings another, refused);
a code another browser already brought is refused; 朋友圈快照 users (is_snapshotuser=1) get a
polite page and no session.
"""
import hashlib
import hmac
import json
import logging
import secrets
import time

from flask import current_app, redirect, session

from bot import keys
from bot.wechat import WeChatError
from bot.wechat_web import authorize_url, exchange_code

log = logging.getLogger(__name__)

PERSON = "h5_person"      # session: {"account": slug, "openid": openid}
BROWSER = "h5_browser"    # session: this browser's random id, which a state is bound to
NONCE_CHARS, MAC_CHARS = 24, 32     # state = nonce + mac: 56 of [0-9a-f] (≤128 [a-zA-Z0-9], §4.11)
SECOND_HIT_WAIT_S = 5.0   # how long a second hit waits for the first one's exchange


class OAuthRefused(Exception):
    """The round trip cannot give a person; the message says what to do next."""


def _mac(slug: str, nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"h5-state:{slug}:{nonce}".encode(), hashlib.sha256).hexdigest()[:MAC_CHARS]


def _browser() -> str:
    if BROWSER not in session:
        session[BROWSER] = secrets.token_hex(16)
    return session[BROWSER]


def start(account, next_path: str):
    """Send the browser to WeChat's authorize page, to come back to `next_path`."""
    redis = current_app.extensions["redis"]
    nonce = secrets.token_hex(NONCE_CHARS // 2)
    redis.set(keys.h5_state(account.slug, nonce),
              json.dumps({"next": next_path, "browser": _browser()}), ex=keys.H5_STATE_TTL)
    back = f"{current_app.config['PUBLIC_BASE_URL']}/h5/{account.slug}/oauth"
    return redirect(authorize_url(current_app.config["WECHAT_OAUTH_BASE"], account.appid, back,
                                  nonce + _mac(account.slug, nonce)))


def finish(account, code: str, state: str) -> str:
    """The person is in the session now; the path to go back to. OAuthRefused otherwise."""
    redis = current_app.extensions["redis"]
    nonce, mac = state[:NONCE_CHARS], state[NONCE_CHARS:]
    if len(state) != NONCE_CHARS + MAC_CHARS or not hmac.compare_digest(mac, _mac(account.slug, nonce)):
        log.warning("oauth refused: forged state account=%s", account.slug)
        raise OAuthRefused("这个链接无效，请从公众号菜单重新打开。")
    raw = redis.get(keys.h5_state(account.slug, nonce))
    record = json.loads(raw) if raw else None
    if record is None or record["browser"] != session.get(BROWSER):
        log.warning("oauth refused: state expired or from another browser account=%s", account.slug)
        raise OAuthRefused("这个链接已过期，请从公众号菜单重新打开。")
    digest = hashlib.sha256(code.encode()).hexdigest()
    used_key = keys.h5_state_used(account.slug, nonce)
    if not redis.set(used_key, digest, nx=True, ex=keys.H5_STATE_TTL) and redis.get(used_key).decode() != digest:
        log.warning("oauth refused: state replayed with another code account=%s", account.slug)
        raise OAuthRefused("这个链接已用过，请从公众号菜单重新打开。")
    who = _exchange_once(account, code, digest, record["browser"])
    if who.get("snapshot"):
        raise OAuthRefused("这是朋友圈里的页面快照，请点击屏幕下方的“使用完整服务”后再打开。")
    if "openid" not in who:
        raise OAuthRefused("微信授权没有成功，请从公众号菜单重新打开。")
    session[PERSON] = {"account": account.slug, "openid": who["openid"]}
    return record["next"]


def _exchange_once(account, code: str, digest: str, browser: str) -> dict:
    """The code's exchange result: made here by the first hit, read by a second (same browser)."""
    redis = current_app.extensions["redis"]
    key = keys.h5_code(account.slug, digest)
    if redis.set(key, json.dumps({"browser": browser}), nx=True, ex=keys.H5_CODE_TTL):
        result = _exchange(account, code)
        redis.set(key, json.dumps({"browser": browser, **result}), ex=keys.H5_CODE_TTL)
        return result
    deadline = time.monotonic() + SECOND_HIT_WAIT_S
    while True:
        found = json.loads(redis.get(key) or "{}")
        if found.get("browser") != browser:
            log.warning("oauth refused: code brought by a second browser account=%s", account.slug)
            raise OAuthRefused("这个授权已在另一处使用，请从公众号菜单重新打开。")
        if len(found) > 1 or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _exchange(account, code: str) -> dict:
    cfg, ext = current_app.config, current_app.extensions
    try:
        answer = exchange_code(ext["http"], cfg["WECHAT_API_BASE"], account, code,
                               cfg["WECHAT_HTTP_TIMEOUT"])
    except WeChatError as exc:
        # 40029 invalid code, 40163 code been used (§4.11): the person starts again from the menu.
        log.warning("oauth code exchange failed account=%s errcode=%s", account.slug, exc.errcode)
        return {"error": exc.errcode}
    return {"openid": answer["openid"], "snapshot": answer.get("is_snapshotuser") == 1}
