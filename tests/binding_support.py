"""Shared set-up for the phone-binding transcripts (issue #4): the example rules, reading the
console SMS, binding in three pushes, the roster, and fresh reads of what the webhook wrote."""
import re
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from bot import points
from bot.binding import membership
from bot.binding.sms import sent_texts
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Company, Fan, LedgerEntry, Member, Staff, Store

RULES = (Path(__file__).parent.parent / "bot/points/rules.example.yaml").read_text(encoding="utf-8")
SUB = dict(slug="sub", type="service", verified=True, appid="wx5ub0000000000002", secret="sub-secret",
           token="subtoken", aes_key="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
           original_id="gh_5ub000000002", name="分店", welcome_text="欢迎关注分店！")
ASK_PHONE = "请输入您的手机号（中国大陆 11 位手机号），回复“取消”退出。"
ASK_REFERRER = "有推荐人吗？请输入推荐人的手机号，没有请回复“跳过”。"
LEFT = "已退出当前操作。需要时可以从菜单重新开始。"
TAKEN = ("手机号 {masked} 已绑定本公众号的另一个微信。如需改绑，请用原微信回复“解绑”，"
         "或联系客服核实身份后办理。")
NEW_MEMBER = "绑定成功，您已成为会员！回复“积分”查看积分，回复“我的”查看会员信息。"
# A phone that is a member already (bound on another account, or again after 解绑).
RETURNING = "绑定成功，欢迎回来！回复“积分”查看积分，回复“我的”查看会员信息。"


def load_rules(app, text: str = RULES) -> None:
    with points.transaction(app) as book:
        load(book.db, parse(text))


def sms_count(app) -> int:
    return len(sent_texts(app.extensions["redis"]))


def last_code(app, jobs) -> str:
    """Runs the queued jobs (the SMS job among them) and reads the code of the newest SMS."""
    jobs.run_all()
    text = sent_texts(app.extensions["redis"])[-1]["text"]
    return re.search(r"\d{6}", text).group()


def sent(masked: str) -> str:
    return (f"验证码已发送至 {masked}，5 分钟内有效。请回复 6 位验证码；"
            "没收到可在 60 秒后回复“重发”。")


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def to_code_step(person, app, jobs, phone: str) -> str:
    """绑定, then the phone: the code the SMS carried."""
    assert person.text("绑定") == ASK_PHONE
    assert person.text(phone) == sent(mask(phone))
    return last_code(app, jobs)


def bind(person, app, jobs, phone: str) -> str:
    """The whole binding; the reply to the code."""
    return person.text(to_code_step(person, app, jobs, phone))


def fan_of(db, person) -> Fan:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))


def member_by_phone(db, phone: str) -> Member | None:
    db.rollback()
    db.expire_all()
    return db.scalar(select(Member).where(Member.phone == phone))


def count(db, model, *where) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def ledger_points(db, member: Member) -> int:
    return db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member.id, LedgerEntry.ledger == "points"))


def roster(db, phone: str, name: str = "王导", roles: str = "guide", active: bool = True,
           store: str = "西湖门店") -> Staff:
    """A company, a store and one staff row on it."""
    db.rollback()
    company = db.scalar(select(Company).where(Company.code == "HZ")) or Company(code="HZ", name="杭州公司")
    db.add(company)
    db.flush()
    shop = db.scalar(select(Store).where(Store.name == store))
    if shop is None:
        shop = Store(code=f"S{db.scalar(select(func.count()).select_from(Store)) + 1}", name=store,
                     company_id=company.id)
        db.add(shop)
        db.flush()
    staff = Staff(phone=phone, name=name, store_id=shop.id, roles=roles, active=active)
    db.add(staff)
    db.commit()
    return staff


def role_tags(world, person) -> list[str]:
    """The names of the person's tags on the sandbox WeChat, in the order they were applied."""
    names = {t["id"]: t["name"] for t in world.tags(person.account.appid)}
    return [names.get(i, str(i)) for i in world.fan_tags(person.account.appid, person.openid)]


def overlap_holder_checks(monkeypatch) -> None:
    """Widens a race: bind()'s first look for another holder of the phone waits 0.3 s after
    finding none, so two pushes have both looked before either writes (then the database's
    unique indexes decide, as they must)."""
    real, looked = membership.holder, threading.local()

    def holder(*args):
        found = real(*args)
        if found is None and not getattr(looked, "once", False):
            looked.once = True
            time.sleep(0.3)
        return found
    monkeypatch.setattr(membership, "holder", holder)
