"""The page and picture of a link card (WECHAT-PLATFORM.md §5.3 step 4: the news card's PicUrl
is our rendering of the code, its Url a page showing it; the subscription account needs no
media upload). The token in the path is the only key: it is random and lives an hour."""
from html import escape
from urllib.parse import quote

from flask import Blueprint, Response, current_app
from sqlalchemy import select

from bot.linking.hq import display_name
from bot.qr.render import render_png
from models import Account, LinkToken

bp = Blueprint("link", __name__, url_prefix="/link")
SHOWQRCODE = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket={ticket}"   # §4.2
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;text-align:center;padding:24px;color:#333}}img{{width:80%;max-width:320px}}</style>
</head><body><h3>{title}</h3>{body}</body></html>"""


def _token(value: str) -> tuple[LinkToken | None, Account | None, bool]:
    """(token, service account, still usable) of a path's token."""
    db = current_app.extensions["db"]()
    try:
        token = db.scalar(select(LinkToken).where(LinkToken.token == value))
        if token is None:
            return None, None, False
        service = db.get(Account, token.service_account_id)
        now = current_app.extensions["clock"].now()
        db.expunge_all()
        return token, service, token.used_at is None and token.expires_at > now
    finally:
        db.close()


@bp.get("/<value>")
def page(value: str):
    token, service, usable = _token(value)
    if token is None or not usable:
        body = "<p>这个二维码已失效。请回到原公众号回复“服务号”获取新的二维码。</p>"
        return Response(PAGE.format(title="二维码已失效", body=body), 410, mimetype="text/html")
    title = escape(f"关注「{display_name(service)}」")
    if token.ticket is None:
        body = "<p>二维码生成中，请稍候刷新本页。</p>"
        return Response(PAGE.format(title=title, body=body), 202, mimetype="text/html")
    body = (f'<img src="{escape(value)}/qr.png" alt="二维码"><p>长按识别二维码关注，会员权益通用。</p>'
            f'<p><a href="{escape(SHOWQRCODE.format(ticket=quote(token.ticket, safe="")))}">打开微信官方二维码</a></p>')
    return Response(PAGE.format(title=title, body=body), mimetype="text/html")


@bp.get("/<value>/qr.png")
def picture(value: str):
    token, service, usable = _token(value)
    if token is None or not usable or token.url is None:
        # The card's picture before the code exists (or after it expired): nothing to show yet.
        return Response(status=404 if token is None or not usable else 503)
    png = render_png(token.url, f"长按识别 · 关注「{display_name(service)}」")
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})
