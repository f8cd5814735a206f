"""Who is asking: `@person_required` gives a view `g.person` (the account, the openid, the fan
row if we know one); `@member_required` also needs them following and bound to a phone, and
otherwise answers for them: follow first, or bind in the chat (where the bot prompts them too).
"""
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request, session
from sqlalchemy import select

from bot import keys
from bot.jobs import JobSpec
from h5 import oauth
from h5.web import account_from_url, db, message
from models import Account, Fan, Member


@dataclass
class Person:
    account: Account          # attached to the request's session (h5.web.db)
    openid: str
    fan: Fan | None           # None: this openid never followed (a shared link)
    member: Member | None     # None: not bound to a phone yet


def person_required(view):
    """The view runs with g.person; a browser without a session goes through OAuth first."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        account = account_from_url()
        if account is None:
            return message("无法打开", "这个页面只能在总部服务号中打开。", 404, "warn")
        who = session.get(oauth.PERSON)
        if not who or who.get("account") != account.slug:
            if request.method != "GET":
                return message("页面已过期", "页面已过期，请从公众号菜单重新打开。", 403, "warn")
            return oauth.start(account, request.full_path.rstrip("?"))
        session_db = db()
        account = session_db.merge(account, load=False)
        fan = session_db.scalar(select(Fan).where(Fan.account_id == account.id,
                                                  Fan.openid == who["openid"]))
        member = session_db.get(Member, fan.member_id) if fan and fan.member_id else None
        g.person = Person(account, who["openid"], fan, member)
        return view(*args, **kwargs)
    return wrapped


def member_required(view):
    """Like person_required, and the person follows the account and is a member."""
    @wraps(view)
    @person_required
    def wrapped(*args, **kwargs):
        person: Person = g.person
        if person.fan is None or not person.fan.following:
            return message("请先关注", f"请先关注「{person.account.name or '总部服务号'}」公众号，"
                           "再从公众号菜单“积分商城”进入。", 200, "info")
        if person.member is None:
            prompt_binding(person)
            return message("请先绑定手机号", "绑定手机号成为会员后就能用积分兑换礼品。"
                           "我们已在公众号对话里发给您绑定提示，回复“绑定”即可开始。", 200, "info",
                           link={"text": "回到公众号", "close_window": True})
        return view(*args, **kwargs)
    return wrapped


def prompt_binding(person: Person) -> None:
    """The bot says how to bind in the chat, once per few minutes however often the page reloads."""
    redis = current_app.extensions["redis"]
    if redis.set(keys.h5_bind_prompt(person.account.slug, person.openid), 1, nx=True,
                 ex=keys.H5_BIND_PROMPT_TTL):
        # `high`: a menu click opened this page, and its one-minute window is open (§4.7).
        current_app.extensions["jobs"].submit(JobSpec(
            "workers.h5.prompt_binding", (person.account.id, person.openid), "high"))
