"""What every H5 blueprint shares: the session cookie, CSRF on every POST, the request's DB
session, the OAuth callback, the JS-SDK config of the page, WeUI and the base template.

A feature builds its blueprint with `area_blueprint("mall", __name__)`: its URLs are
/h5/<account>/mall/..., `url_for` fills <account> in, POSTs are CSRF-checked, and views put
`@person_required` (h5/person.py) on to know who is asking.
"""
import logging
import secrets
import time

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot.directory import account_by_slug
from bot.phones import mask_phone
from bot.wechat import WeChatError, make_client
from bot.wechat_web import TicketStore, jsapi_signature
from h5 import oauth

log = logging.getLogger(__name__)

csrf = CSRFProtect()
foundation = Blueprint("h5", __name__, static_folder="static", static_url_path="/h5/static",
                       template_folder="templates")
# The JS-SDK script WeChat serves (§4.12); loaded with `defer`, so it never blocks rendering.
JWEIXIN_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
# Share and close only: nothing else of the JS-SDK is used, so nothing else is asked for.
JS_API_LIST = ["updateAppMessageShareData", "updateTimelineShareData", "closeWindow"]


def init_app(app: Flask) -> None:
    """Called once by the app factory's registry (bot/routes.py), before feature blueprints."""
    app.config.setdefault("JWEIXIN_URL", JWEIXIN_URL)
    # CSRF is checked by the H5 blueprints' own before_request (area_blueprint), so the webhook,
    # the admin API and the sandbox, which are not browser forms, keep their own checks.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None     # the token lives as long as the session
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_BASE_URL"].startswith("https://")
    csrf.init_app(app)
    app.register_blueprint(foundation)
    app.teardown_appcontext(_close_db)
    app.jinja_env.globals["wx_config"] = wx_config
    app.jinja_env.filters["mask_phone"] = mask_phone


def db():
    """The request's DB session, opened on first use and closed at teardown (flaskr's get_db)."""
    if "h5_db" not in g:
        g.h5_db = current_app.extensions["db"]()
    return g.h5_db


def end_reads() -> None:
    """Close the request's session before a write transaction of its own: on SQLite every
    transaction takes the one write lock up front (models/db.py), so two would wait on each other."""
    _close_db(None)


def _close_db(_exc) -> None:
    session = g.pop("h5_db", None)
    if session is not None:
        session.close()


def account_from_url():
    """The account named by the URL, or None; only a verified service account has OAuth (§5.1)."""
    ext = current_app.extensions
    account = account_by_slug(ext["redis"], ext["db"], g.get("h5_account_slug", ""))
    if account is None or account.type != "service" or not account.verified:
        return None
    return account


def message(title: str, text: str, status: int = 200, icon: str = "info", link=None):
    """A page that says one thing and what to do next (WeUI's msg page)."""
    return render_template("h5/message.html", title=title, text=text, icon=icon, link=link), status


@foundation.get("/h5/<account>/oauth")
def oauth_callback(account: str):
    """WeChat sends the person back here with a code: exchange it, then open their page."""
    g.h5_account_slug = account
    found = account_from_url()
    if found is None:
        return message("无法打开", "这个页面只能在总部服务号中打开。", 404, "warn")
    code, state = request.args.get("code", ""), request.args.get("state", "")
    if not code:
        return message("需要授权", "需要您同意授权才能打开这个页面，请从公众号菜单重新打开。", 403, "warn")
    try:
        back = oauth.finish(found, code, state)
    except oauth.OAuthRefused as refused:
        return message("无法打开", str(refused), 403, "warn")
    return redirect(back)


def area_blueprint(area: str, import_name: str) -> Blueprint:
    """A feature's blueprint at /h5/<account>/<area>/, with CSRF on every POST."""
    bp = Blueprint(area, import_name, url_prefix=f"/h5/<account>/{area}",
                   template_folder="templates")

    @bp.url_value_preprocessor
    def take_account(_endpoint, values):
        g.h5_account_slug = (values or {}).pop("account", "")

    @bp.url_defaults
    def give_account(_endpoint, values):
        values.setdefault("account", g.get("h5_account_slug"))

    @bp.before_request
    def check_csrf():
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    @bp.errorhandler(CSRFError)
    def csrf_failed(error):
        log.warning("h5 post refused: %s path=%s", error.description, request.path)
        return message("页面已过期", "页面已过期，请返回上一页刷新后再提交。", 400, "warn")

    return bp


def wx_config(title: str = "", desc: str = "") -> dict | None:
    """wx.config for this page plus what a share shows; None when WeChat cannot sign now (the
    page works without share buttons)."""
    account = account_from_url()
    if account is None:
        return None
    cfg, ext = current_app.config, current_app.extensions
    # §4.12: the exact URL the person sees, without '#...' (the server never gets the fragment).
    url = f"{cfg['PUBLIC_BASE_URL']}{request.full_path}".rstrip("?")
    try:
        client = make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"],
                             cfg["WECHAT_HTTP_TIMEOUT"])
        ticket = TicketStore(ext["redis"], client).get()
    except WeChatError as exc:
        log.warning("jsapi ticket unavailable account=%s errcode=%s", account.slug, exc.errcode)
        return None
    nonce, timestamp = secrets.token_hex(8), int(time.time())
    return {"appId": account.appid, "timestamp": timestamp, "nonceStr": nonce,
            "signature": jsapi_signature(ticket, nonce, timestamp, url),
            "jsApiList": JS_API_LIST,
            "share": {"title": title, "desc": desc, "link": url.split("?", 1)[0]}}
