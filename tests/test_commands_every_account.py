"""Every chat command on each of the four account kinds (WECHAT-PLATFORM.md §5.1): an answer
saying what this account can do, leading to the service account where the feature lives
there; never the apology, never silence. The commands come from the routing table itself."""
import pytest
from sqlalchemy import select

from bot.pipeline import APOLOGY
from bot.routes import ROUTERS
from models import Fan, KeywordReply, Member
from tests.binding_support import load_rules, roster
from tests.linking_support import SUB_ACCOUNT

KINDS = {   # slug: (type, verified)
    "svc-raw": ("service", False),
    "sub": ("subscription", True),
    "sub-raw": ("subscription", False),
    "hq": ("service", True),
}
WORDS = sorted({word for router in ROUTERS for word in router.words})
CLICKS = sorted({key for router in ROUTERS for key in router.click_keys})
# Features that live on the service account (§5.1: OAuth and parametric codes are verified
# service accounts' only): elsewhere their answer names it.
ON_SERVICE = {"服务号", "关注服务号", "关联服务号", "商城", "积分商城", "海报", "我的海报", "POSTER"}


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


def account_of_kind(make_account, account, slug):
    if slug == "hq":
        return account
    kind, verified = KINDS[slug]
    n = list(KINDS).index(slug)
    return make_account(**{**SUB_ACCOUNT, "slug": slug, "type": kind, "verified": verified,
                           "appid": f"wxk1nd{n:012d}", "token": f"kindtoken{n}", "original_id": f"gh_k1nd{n:07d}",
                           "name": f"{slug} 号"})


def shown(reply) -> str:
    """What the person sees: the text, or the news card's title and description."""
    assert reply.status == 200
    if reply.type == "news":
        item = reply.fields["Articles"]["item"]
        return f"[图文] {item['Title']} {item['Description']}"
    return reply.content or ""


@pytest.mark.parametrize("slug", list(KINDS))
@pytest.mark.parametrize("who", ["fan", "member", "staff"])
def test_every_command_answers_on_every_account_kind(app, db, phone, make_account, account, slug, who):
    here = account_of_kind(make_account, account, slug)
    db.add(KeywordReply(account_id=here.id, keyword="营业时间", match="exact", reply="每天 9:00-18:00"))
    db.commit()
    person = phone(f"{who}-{slug}", account=here)
    person.follow()
    if who != "fan":
        number = "13800001111" if who == "member" else "13900002222"
        staff = roster(db, number, roles="guide,manager") if who == "staff" else None
        fan = db.scalar(select(Fan).where(Fan.openid == person.openid))
        member = Member(phone=number, level="")
        db.add(member)
        db.flush()
        fan.member_id = member.id
        if staff is not None:
            staff.member_id = member.id
        db.commit()
    keywords = list(db.scalars(select(KeywordReply.keyword).where(KeywordReply.account_id == here.id)))
    seen = {}
    for command in WORDS + keywords:
        seen[command] = shown(person.send("text", {"Content": command}))
        person.text("取消")               # whatever the command started (a step, a queue) ends
    for key in CLICKS:
        seen[key] = shown(person.event("CLICK", key=key, user_event="click"))
        person.text("取消")
    for command, answer in seen.items():
        assert answer and APOLOGY not in answer, (slug, who, command, answer)
    hq_lacks = slug != "hq"
    for command in ON_SERVICE & set(seen):
        if hq_lacks and (who == "staff" or command not in ("海报", "我的海报", "POSTER")):
            assert "HQ" in seen[command], (slug, who, command, seen[command])
