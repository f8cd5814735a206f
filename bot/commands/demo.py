"""`flask --app wsgi demo`: the demo service account and its demo data."""
import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from bot.commands.common import mirror_to_sandbox, session
from bot.directory import forget
from bot.points.policy import load
from bot.points.rules_file import EXAMPLE_RULES, parse
from models import Account, KeywordReply, PointsPolicy
from models.account import SERVICE
from models.keyword import CONTAINS, EXACT
from models.org import Company, Staff, Store


DEMO = dict(slug="demo", type=SERVICE, verified=True, appid="wxdemo000000000001", secret="demo-secret",
            token="demotoken", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            original_id="gh_demo00000001", name="旅游集团服务号（演示）", notice_template_id="TPL_NEW_MESSAGES",
            welcome_text="欢迎关注旅游集团！点击下方菜单开始使用，回复“帮助”看看我能做什么。")
DEMO_KEYWORDS = [("营业时间", EXACT, "门店营业时间：每天 9:00-21:00。"),
                 ("地址", CONTAINS, "总部地址：上海市黄浦区示例路 1 号。")]


# The README's "Try it": a store whose code a fan scans, and an agent on its roster who binds
# 13900000001 in a sandbox phone and answers the fans who ask for a person.
DEMO_STORE = dict(code="S1", name="西湖门店")
DEMO_AGENT = dict(phone="13900000001", name="小王", roles="agent", capacity=3, default_agent=True)


def _demo_store_and_agent(db) -> None:
    if db.scalar(select(Store.id).where(Store.code == DEMO_STORE["code"])) is not None:
        return
    company = db.scalar(select(Company).where(Company.code == "DEMO"))
    if company is None:
        company = Company(code="DEMO", name="旅游集团（演示）")
        db.add(company)
        db.flush()
    store = Store(company_id=company.id, **DEMO_STORE)
    db.add(store)
    db.flush()
    if db.scalar(select(Staff.id).where(Staff.phone == DEMO_AGENT["phone"])) is None:
        db.add(Staff(store_id=store.id, **DEMO_AGENT))


@click.command("demo", help="Create (or refresh) the demo service account `demo` and its demo data.")
@with_appcontext
def demo():
    with session() as db, db.begin():
        account = db.scalar(select(Account).where(Account.slug == DEMO["slug"]))
        if account is None:
            account = Account(**DEMO)
            db.add(account)
            db.flush()
        for keyword, match, reply in DEMO_KEYWORDS:
            exists = db.scalar(select(KeywordReply).where(KeywordReply.account_id == account.id,
                                                          KeywordReply.keyword == keyword))
            if exists is None:
                db.add(KeywordReply(account_id=account.id, keyword=keyword, match=match, reply=reply))
        _demo_store_and_agent(db)
        if db.scalar(select(PointsPolicy.id).limit(1)) is None:     # never over an operator's rules
            load(db, parse(EXAMPLE_RULES.read_text(encoding="utf-8")))
    forget(current_app.extensions["redis"], account.slug)
    mirror_to_sandbox(account)
    click.echo("demo account ready: /wechat/demo (token demotoken); try: "
               "flask --app wsgi sandbox chat --account demo --as alice")
