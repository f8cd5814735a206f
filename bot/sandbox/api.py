"""The fake WeChat over HTTP: api.weixin.qq.com and the OAuth authorize page of open.weixin.qq.com.

The app mounts `api_blueprint` at /sandbox/api and `oauth_blueprint` at /sandbox/open, so
`POST /sandbox/api/cgi-bin/stable_token` plays
`POST https://api.weixin.qq.com/cgi-bin/stable_token`.
Every call is recorded, failed ones included. Errors come back as WeChat sends them: HTTP 200
with {"errcode": N, "errmsg": "..."}; an unknown path too (40066, invalid url).
"""
import json
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template_string, request

from bot.sandbox.errors import ApiError
from bot.sandbox.routes import ROUTES, Call, Route
from bot.sandbox.state import SandboxWeChat

api_blueprint = Blueprint("sandbox_api", __name__)
oauth_blueprint = Blueprint("sandbox_oauth", __name__)

AUTHORIZE_PATH = "/connect/oauth2/authorize"


def sandbox() -> SandboxWeChat:
    """The sandbox over the app's Redis and clock (no state of its own)."""
    return SandboxWeChat(current_app.extensions["redis"], current_app.extensions["clock"])


def _json(answer: dict[str, Any]) -> Response:
    """A JSON answer in UTF-8, unescaped, as WeChat sends it."""
    return Response(json.dumps(answer, ensure_ascii=False),
                    content_type="application/json; charset=utf-8")


def _parse_body() -> tuple[Any, ApiError | None]:
    """The request's JSON body and the error WeChat would give for it, if any."""
    if request.method != "POST" or request.mimetype == "multipart/form-data":
        return None, None
    raw = request.get_data()
    if not raw.strip():
        return None, ApiError(44002)
    try:
        return json.loads(raw), None
    except ValueError:
        return None, ApiError(47001, "the body is not JSON")


def _uploaded() -> dict[str, dict[str, Any]]:
    """What was uploaded, per multipart field: file name, content type, size and the bytes."""
    uploaded = {}
    for name, f in request.files.items():
        data = f.read()
        uploaded[name] = {"filename": f.filename, "content_type": f.mimetype, "size": len(data),
                          "data": data}
    return uploaded


def _claimed_appid(wx: SandboxWeChat, query: dict[str, str], body: Any) -> str | None:
    """The account a call is about, for the record and scripted failures (not yet checked)."""
    token = query.get("access_token")
    if token:
        return wx.tokens.appid_of(token) or wx.oauth.appid_of(token)
    claimed = query.get("appid") or (body.get("appid") if isinstance(body, dict) else None)
    return claimed if isinstance(claimed, str) else None


def _run(wx: SandboxWeChat, path: str, call: Call, body_error: ApiError | None) -> dict[str, Any]:
    """Apply WeChat's checks in order, then the API itself."""
    scripted = wx.recorder.take_failure(path, call.appid or None)
    if scripted is not None:
        raise ApiError(scripted, "scripted by fail_next")
    route: Route | None = ROUTES.get(path)
    if route is None:
        raise ApiError(40066, f"{path} is not an API the sandbox plays")
    if route.method != request.method:
        raise ApiError(43001 if route.method == "GET" else 43002)
    appid = call.appid
    if route.auth == "token":
        appid = wx.tokens.check(call.query.get("access_token"))
        if route.capability:
            wx.accounts.require(appid, route.capability)
        wx.backend.take_daily(appid, path)
    if route.json_body and body_error is not None:
        raise body_error
    hang = wx.recorder.take_hang(path, call.appid or None)
    answer = route.handler(wx, Call(appid or "", call.query, call.body, call.files))
    if hang:
        time.sleep(hang)     # the call took effect; its caller waits (and may die waiting)
    return answer


@api_blueprint.route("/<path:path>", methods=["GET", "POST"])
def serve(path: str) -> Response:
    """Answer one call to the fake api.weixin.qq.com, and record it."""
    wx = sandbox()
    path = "/" + path
    query = request.args.to_dict()
    body, body_error = _parse_body()
    files = _uploaded() if request.mimetype == "multipart/form-data" else {}
    appid = _claimed_appid(wx, query, body)
    errcode = 0
    try:
        answer = _run(wx, path, Call(appid or "", query, body, files), body_error)
    except ApiError as error:
        answer, errcode = error.answer(), error.errcode
    wx.recorder.record(path, request.method, appid, query,
                       body if isinstance(body, dict) else None, errcode,
                       {name: {k: v for k, v in f.items() if k != "data"} for name, f in files.items()})
    return _json(answer)


SIGN_IN_PAGE = """<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>sandbox: 微信授权</title>
<body>
<form method="get" action="">
  {% for name, value in hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">
  {% endfor %}<input type="hidden" name="confirm" value="1">
  <label>sandbox: sign in as openid <input name="openid" value="{{ openid }}" required></label>
  <button type="submit">允许</button>
</form>
<p>scope: {{ scope }}</p>
</body></html>"""

ERROR_PAGE = """<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>sandbox: 微信授权失败</title>
<body><p>sandbox: 授权失败 errcode {{ errcode }}: {{ errmsg }}</p></body></html>"""

FORWARDED = ("appid", "redirect_uri", "response_type", "scope", "state")


def _with_query(url: str, params: dict[str, str]) -> str:
    """url with params appended to its query string, before any #fragment."""
    base, hashmark, fragment = url.partition("#")
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}{hashmark}{fragment}"


@oauth_blueprint.route(AUTHORIZE_PATH, methods=["GET"])
def authorize() -> Any:
    """The consent page: pick an openid, then go back to redirect_uri with code and state.

    Confirming is a GET of this same URL with openid=<openid>&confirm=1 (the form does it);
    adding snapshot=1 plays a 朋友圈快照 page's virtual user. A browser sandbox phone's page
    (its openid in the sandbox_openid cookie) passes snsapi_base silently, as WeChat does.
    """
    wx = sandbox()
    args = request.args.to_dict()
    errcode = 0
    try:
        scripted = wx.recorder.take_failure(AUTHORIZE_PATH, args.get("appid"))
        if scripted is not None:
            raise ApiError(scripted, "scripted by fail_next")
        wx.oauth.check_authorize(args)
        # A browser sandbox phone opening a VIEW page leaves its person's openid in a cookie;
        # for that person snsapi_base is silent, as in WeChat (静默授权: no consent page).
        phone_openid = request.cookies.get("sandbox_openid", "").strip()
        openid = (args.get("openid") or phone_openid).strip()
        silent = args.get("scope") == "snsapi_base" and not args.get("openid") and bool(phone_openid)
        if (args.get("confirm") == "1" or silent) and openid:
            code = wx.oauth.issue_code(args["appid"], openid, args["scope"],
                                       snapshot=args.get("snapshot") == "1")
            answer: Any = redirect(_with_query(args["redirect_uri"],
                                               {"code": code, "state": args.get("state", "")}), 302)
        else:
            hidden = [(name, args.get(name, "")) for name in FORWARDED]
            answer = render_template_string(SIGN_IN_PAGE, hidden=hidden, openid=openid,
                                            scope=args["scope"])
    except ApiError as error:
        errcode = error.errcode
        answer = render_template_string(ERROR_PAGE, errcode=error.errcode, errmsg=error.errmsg)
    wx.recorder.record(AUTHORIZE_PATH, request.method, args.get("appid"), args, None, errcode)
    return answer
