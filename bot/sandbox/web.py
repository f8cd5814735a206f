"""The sandbox in a browser: `/sandbox/` shows phones side by side (sandbox on only).

Each phone is one person on one account. It sends signed pushes through the real webhook, as
`sandbox chat` does, shows the account's current menu for that person from the sandbox's menu
state (the conditional menu of the person's last-applied tag, WECHAT-PLATFORM.md §4.6), opens a
VIEW button's page inside the phone (the sandbox's OAuth page knows who is signing in), and polls
for what arrives: customer-service messages, news, images, template notices, and the SMS sent to
the numbers typed on it. The page itself is phones.html beside this file.
"""
import mimetypes
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from sqlalchemy import select

from bot.sandbox.outbox import Watch
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat

web_blueprint = Blueprint("sandbox_web", __name__)
PAGE = Path(__file__).with_name("phones.html")
MOBILE = re.compile(r"1[3-9]\d{9}")
OPENID_COOKIE = "sandbox_openid"      # read by the sandbox's OAuth page (bot/sandbox/api.py)


def _world() -> SandboxWeChat:
    ext = current_app.extensions
    return SandboxWeChat(ext["redis"], ext["clock"])


def _account(slug: str):
    from models import Account
    with current_app.extensions["db"]() as db:
        account = db.scalar(select(Account).where(Account.slug == slug))
        if account is None:
            abort(404, f"no account {slug}")
        db.expunge(account)
    _world().register_account(account.appid, account.secret, account.type, account.verified,
                              account.original_id or "")
    return account


def _phone(slug: str, name: str) -> Phone:
    account = _account(slug)
    client = current_app.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    ext = current_app.extensions
    return Phone(post, account, sandbox_openid(slug, name), "safe" if account.aes_key else "plain",
                 _world(), ext["clock"])


@web_blueprint.get("/")
def page() -> Response:
    return send_file(PAGE, mimetype="text/html")


@web_blueprint.get("/phones/accounts")
def accounts() -> Response:
    from models import Account
    with current_app.extensions["db"]() as db:
        rows = db.scalars(select(Account).order_by(Account.slug)).all()
        return jsonify([{"slug": a.slug, "name": a.name, "type": a.type, "verified": a.verified}
                        for a in rows])


@web_blueprint.post("/phones/<slug>/<name>/act")
def act(slug: str, name: str) -> Response:
    """One thing the person does: text, click, view, follow, scan or unfollow."""
    body = request.get_json(silent=True) or {}
    action, value = body.get("action"), str(body.get("value") or "").strip()
    phone = _phone(slug, name)
    if action == "text" and value:
        phone.text(value)
    elif action == "click" and value:
        phone.click(value)
    elif action == "view" and value:
        phone.event("VIEW", key=value, user_event="click")     # WeChat pushes VIEW with the url (§3.1)
    elif action == "follow":
        phone.follow(value or None)
    elif action == "scan" and value:
        phone.scan(value)
    elif action == "unfollow":
        phone.unfollow()
    else:
        return jsonify(error=f"unknown or incomplete action {action!r}"), 400
    answer = jsonify(openid=phone.openid, reply=_reply(phone))
    answer.set_cookie(OPENID_COOKIE, phone.openid, samesite="Lax")
    return answer


def _reply(phone: Phone) -> dict[str, Any]:
    reply = phone.last
    if reply.status != 200:
        return {"type": "error", "text": f"HTTP {reply.status}: {reply.body.decode(errors='replace')[:200]}"}
    fields = reply.fields or {}
    if reply.type == "text":
        return {"type": "text", "text": fields.get("Content") or ""}
    if reply.type in ("image", "voice"):
        media_id = (fields.get(reply.type.capitalize()) or {}).get("MediaId")
        return {"type": reply.type, "media": _media_url(phone.account.appid, media_id)}
    if reply.type == "news":
        items = (fields.get("Articles") or {}).get("item") or []
        items = items if isinstance(items, list) else [items]
        return {"type": "news", "news": [{"title": i.get("Title"), "description": i.get("Description"),
                                          "url": i.get("Url"), "picurl": i.get("PicUrl")} for i in items]}
    return {"type": reply.type or "none", "text": ""}


@web_blueprint.get("/phones/<slug>/<name>/poll")
def poll(slug: str, name: str) -> Response:
    """What arrived after the client's marks, the person's menu and follow state, new marks."""
    account = _account(slug)
    world = _world()
    openid = sandbox_openid(slug, name)
    inbox = request.args.get("inbox", type=int)
    since = request.args.get("sms", type=float)
    numbers = {n for n in request.args.get("numbers", "").split(",") if MOBILE.fullmatch(n)}
    watch = Watch(world, account.appid, openid, Path(current_app.instance_path) / "sandbox",
                  inbox_seen=inbox, sms_since=since)
    arrivals = []
    for arrival in watch.new(phones=numbers):
        item = arrival.as_dict()
        if arrival.media_id:
            item["media"] = _media_url(account.appid, arrival.media_id)
        arrivals.append(item)
    return jsonify(arrivals=arrivals, inbox=watch.inbox_seen, sms=watch.sms_since, openid=openid,
                   following=world.fans.is_following(account.appid, openid),
                   menu=menu_for(world, account.appid, openid))


def menu_for(world: SandboxWeChat, appid: str, openid: str) -> list[dict[str, Any]]:
    """The buttons this person sees: the newest conditional menu matching their last-applied
    tag, else the default menu (§4.6, as menu/trymatch answers); none before menus are pushed."""
    default = world.menu_store.default(appid)
    if default is None:
        return []
    tag_ids = world.fans.tag_ids(appid, openid) if world.fans.fan(appid, openid) else []
    if tag_ids:
        for menu in reversed(world.menu_store.conditional(appid)):
            if menu["matchrule"].get("tag_id") == str(tag_ids[-1]):
                return menu["button"]
    return default["button"]


def _media_url(appid: str, media_id: str | None) -> str | None:
    return f"/sandbox/phones/media/{appid}/{media_id}" if media_id else None


@web_blueprint.get("/phones/media/<appid>/<media_id>")
def media(appid: str, media_id: str) -> Response:
    world = _world()
    data, record = world.media_store.content(appid, media_id), world.media(appid, media_id)
    if data is None or record is None:
        abort(404)
    guessed = mimetypes.guess_type(record.get("filename") or "")[0]
    return Response(data, mimetype=guessed or record.get("content_type") or "application/octet-stream")
