"""Set-up shared by the linking transcripts: a subsidiary's subscription account beside HQ's
service account (the `account` fixture), reading the link card, and the code it leads to."""
import re

from sqlalchemy import select

from models import LinkToken
from tests.binding_support import bind

SUB_ACCOUNT = dict(slug="east", type="subscription", verified=False, appid="wxea5t000000000001",
                   secret="east-secret", token="easttoken", aes_key="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
                   original_id="gh_ea5t00000001", name="华东旅行", welcome_text="欢迎关注华东旅行！")
CARD_PICTURE = re.compile(r"^http://127\.0\.0\.1:5000/link/([A-Za-z0-9_-]{16})/qr\.png$")


def erin_on_both(app, jobs, phone, world, account, make_account, number: str):
    """Erin, a member by `number` on a verified 订阅号 that shares an open platform with the 服务号
    (unionid union-erin), and her phone on the 服务号 with that unionid, not following it yet."""
    east = make_account(**{**SUB_ACCOUNT, "verified": True})
    erin = phone("erin", account=east)
    world.set_unionid(east.appid, erin.openid, "union-erin")
    erin.follow()
    bind(erin, app, jobs, number)
    jobs.run_all()
    erin_hq = phone("erin-hq", account=account)
    world.set_unionid(account.appid, erin_hq.openid, "union-erin")
    return erin_hq


def article(reply) -> dict:
    """The one article of a news reply (WECHAT-PLATFORM.md §3.4: one since 2018-10-12)."""
    assert reply.type == "news", reply.fields
    assert reply.fields["ArticleCount"] == "1"
    return reply.fields["Articles"]["item"]


def card_token(reply) -> str:
    """The one-time token behind a link card (its picture and page carry it)."""
    item = article(reply)
    token = CARD_PICTURE.match(item["PicUrl"]).group(1)
    assert item["Url"] == f"http://127.0.0.1:5000/link/{token}"
    return token


def token_row(db, token: str) -> LinkToken:
    db.rollback()
    db.expire_all()
    return db.scalar(select(LinkToken).where(LinkToken.token == token))
