"""The routing table of the fake api.weixin.qq.com: path -> method, auth, capability, handler.

Read top to bottom it is the list of APIs the sandbox plays. `auth="token"` routes take the
account's `?access_token=` (checked before anything else, §4.1) and then the account's
capability (§5.1, 48001); `auth="self"` routes authenticate themselves (appid + secret, or a
user's OAuth token). Paths not listed answer 40066 (invalid url).
"""
from dataclasses import dataclass, field
from typing import Any, Callable

from bot.sandbox.base import require_dict
from bot.sandbox.state import SandboxWeChat


@dataclass(frozen=True)
class Call:
    """One API call as a handler sees it."""

    appid: str                      # the account (from the token) on auth="token" routes
    query: dict[str, str]
    body: Any                       # parsed JSON, or None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)   # field -> name/type/size


Handler = Callable[[SandboxWeChat, Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """How one API is called and who may call it."""

    method: str
    capability: str | None
    handler: Handler
    auth: str = "token"
    json_body: bool = True


def _upload(wx: SandboxWeChat, c: Call) -> dict[str, Any]:
    """media/upload: the multipart field "media" described by the dispatcher."""
    media = c.files.get("media", {})
    return wx.media_store.upload(c.appid, c.query.get("type"), media.get("filename"),
                                 media.get("content_type"), media.get("size"), media.get("data"))


def get(capability: str | None, handler: Handler, auth: str = "token") -> Route:
    """A GET API (no body)."""
    return Route("GET", capability, handler, auth=auth, json_body=False)


def post(capability: str | None, handler: Handler, auth: str = "token",
         json_body: bool = True) -> Route:
    """A POST API, with a JSON body unless json_body is False (multipart upload)."""
    return Route("POST", capability, handler, auth=auth, json_body=json_body)


ROUTES: dict[str, Route] = {
    # §4.1 access_token; §4.12 JS-SDK
    "/cgi-bin/token": get(None, lambda wx, c: wx.tokens.token(c.query), auth="self"),
    "/cgi-bin/stable_token": post(None, lambda wx, c: wx.tokens.stable_token(
        require_dict(c.body)), auth="self"),
    "/cgi-bin/ticket/getticket": get(None, lambda wx, c: wx.tokens.ticket(
        c.appid, c.query.get("type"))),
    # §4.7 customer-service messages; §4.8 template messages
    "/cgi-bin/message/custom/send": post("cs", lambda wx, c: wx.messages.custom_send(
        c.appid, c.body)),
    "/cgi-bin/message/custom/typing": post("cs", lambda wx, c: wx.messages.typing(
        c.appid, c.body)),
    "/cgi-bin/message/template/send": post("template", lambda wx, c: (
        wx.messages.template_send(c.appid, c.body))),
    # §4.13 mass send by tag, its preview, news for mpnews
    "/cgi-bin/message/mass/sendall": post("mass", lambda wx, c: wx.mass.sendall(c.appid, c.body)),
    "/cgi-bin/message/mass/preview": post("mass", lambda wx, c: wx.mass.preview(c.appid, c.body)),
    "/cgi-bin/media/uploadnews": post("mass", lambda wx, c: wx.mass.upload_news(c.appid, c.body)),
    # §4.2 QR codes
    "/cgi-bin/qrcode/create": post("qrcode", lambda wx, c: wx.qr.create(c.appid, c.body)),
    # §4.3 users
    "/cgi-bin/user/info": get("users", lambda wx, c: wx.fans.info(
        c.appid, c.query.get("openid"))),
    "/cgi-bin/user/info/batchget": post("users", lambda wx, c: wx.fans.batch_info(
        c.appid, c.body)),
    "/cgi-bin/user/get": get("users", lambda wx, c: wx.fans.followers(
        c.appid, c.query.get("next_openid"))),
    "/cgi-bin/user/info/updateremark": post("users", lambda wx, c: (
        wx.fans.update_remark(c.appid, c.body))),
    # §4.4 tags
    "/cgi-bin/tags/create": post("users", lambda wx, c: wx.tag_store.create(c.appid, c.body)),
    "/cgi-bin/tags/get": get("users", lambda wx, c: wx.tag_store.get(c.appid)),
    "/cgi-bin/tags/update": post("users", lambda wx, c: wx.tag_store.update(c.appid, c.body)),
    "/cgi-bin/tags/delete": post("users", lambda wx, c: wx.tag_store.delete(c.appid, c.body)),
    "/cgi-bin/tags/members/batchtagging": post("users", lambda wx, c: wx.tag_store.tag(
        c.appid, c.body)),
    "/cgi-bin/tags/members/batchuntagging": post("users", lambda wx, c: (
        wx.tag_store.untag(c.appid, c.body))),
    "/cgi-bin/tags/getidlist": post("users", lambda wx, c: wx.tag_store.of_fan(
        c.appid, c.body)),
    "/cgi-bin/user/tag/get": post("users", lambda wx, c: wx.tag_store.fans_of(
        c.appid, c.body)),
    # §4.5, §4.6 menus
    "/cgi-bin/menu/create": post("menu", lambda wx, c: wx.menu_store.create(c.appid, c.body)),
    "/cgi-bin/menu/get": get("menu", lambda wx, c: wx.menu_store.get(c.appid)),
    "/cgi-bin/menu/delete": get("menu", lambda wx, c: wx.menu_store.delete(c.appid)),
    "/cgi-bin/menu/addconditional": post("menu", lambda wx, c: (
        wx.menu_store.add_conditional(c.appid, c.body))),
    "/cgi-bin/menu/delconditional": post("menu", lambda wx, c: (
        wx.menu_store.del_conditional(c.appid, c.body))),
    "/cgi-bin/menu/trymatch": post("menu", lambda wx, c: wx.menu_store.try_match(
        c.appid, c.body)),
    # §3.4, §5.1 temporary media
    "/cgi-bin/media/upload": post("media", _upload, json_body=False),
    # §4.10 multi-customer-service
    "/customservice/kfaccount/add": post("kf", lambda wx, c: wx.kf.add(c.appid, c.body)),
    "/cgi-bin/customservice/getkflist": get("kf", lambda wx, c: wx.kf.kf_list(c.appid)),
    "/cgi-bin/customservice/getonlinekflist": get("kf", lambda wx, c: (
        wx.kf.online_list(c.appid))),
    "/customservice/kfsession/create": post("kf", lambda wx, c: wx.kf.create_session(
        c.appid, c.body)),
    "/customservice/kfsession/close": post("kf", lambda wx, c: wx.kf.close_session(
        c.appid, c.body)),
    "/customservice/kfsession/getsession": get("kf", lambda wx, c: wx.kf.get_session(
        c.appid, c.query.get("openid"))),
    "/customservice/kfsession/getsessionlist": get("kf", lambda wx, c: (
        wx.kf.session_list(c.appid, c.query.get("kf_account")))),
    "/customservice/kfsession/getwaitcase": get("kf", lambda wx, c: (
        wx.kf.wait_cases(c.appid))),
    # §4.11 OAuth (user-scoped; the handlers check appid/secret or the user token)
    "/sns/oauth2/access_token": get(None, lambda wx, c: wx.oauth.exchange(
        c.query), auth="self"),
    "/sns/oauth2/refresh_token": get(None, lambda wx, c: wx.oauth.refresh(
        c.query), auth="self"),
    "/sns/userinfo": get(None, lambda wx, c: wx.oauth.userinfo(c.query), auth="self"),
    "/sns/auth": get(None, lambda wx, c: wx.oauth.auth(c.query), auth="self"),
}
