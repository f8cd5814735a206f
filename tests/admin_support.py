"""Three stores' worth of data and three operators of different reach, for the scope tests.

Company C1 has stores SA and SB, company C2 store SC. Each store X has a fan and a member
(points earned and spent through the ledger, a mall order through bot/mall/orders.py), a
purchase, a QR code with a follow through it, a conversation with a message, a tag, and a guide
"mkX 导游" with a link (group mkX) of the store's own survey mkX-survey and one of the survey
all three stores use, "shared", each with the member's completed response; every one of them
carries the marker "mkX" somewhere a listing shows it (the shared survey itself carries none).
Operators: boss (hq), c1admin (company C1), samgr (store SA); and a staff manager of SA, 13900000001.
"""
import re
from dataclasses import dataclass, field
from datetime import timedelta

from bot import points
from bot.mall.orders import redeem
from bot.points.engine import adjust
from models import (Company, Conversation, CsMessage, Fan, FanTag, MallCategory, Member, Product, Purchase,
                    QrCode, QrEvent, Staff, Store, Survey, SurveyLink, SurveyResponse)
from models.cs import RELAY, WAITING
from models.qr import FOLLOW

STORES = {"SA": "C1", "SB": "C1", "SC": "C2"}
PHONES = {"SA": "13811110001", "SB": "13811110002", "SC": "13811110003"}
GUIDES = {"SA": "13911110001", "SB": "13911110002", "SC": "13911110003"}
PAGES = [{"title": "", "questions": [{"id": "said", "kind": "text", "title": "意见", "required": False,
                                      "options": [], "show_if": None}]}]
MANAGER_PHONE = "13900000001"
REACH = {"boss": {"SA", "SB", "SC"}, "c1admin": {"SA", "SB"}, "samgr": {"SA"}, MANAGER_PHONE: {"SA"}}
MARKER = re.compile(r"mk(S[A-C])")


@dataclass
class Org:
    tokens: dict[str, str] = field(default_factory=dict)
    stores: dict[str, int] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    guides: dict[str, int] = field(default_factory=dict)

    def auth(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def markers(value) -> set[str]:
    """The stores whose marker appears anywhere in `value` (a row, a page, a CSV text)."""
    return set(MARKER.findall(str(value)))


def build(app, db, account, cli) -> Org:
    org = Org()
    now = app.extensions["clock"].now()
    companies = {code: Company(code=code, name=f"公司{code}") for code in set(STORES.values())}
    db.add_all(companies.values())
    db.flush()
    category = MallCategory(code="gifts", name="礼品")
    db.add(category)
    db.flush()
    for code, company in STORES.items():
        store = Store(code=code, name=f"门店{code}", company_id=companies[company].id)
        db.add(store)
        db.flush()
        org.stores[code] = store.id
        member = Member(phone=PHONES[code], name=f"mk{code} 会员", home_store_id=store.id)
        db.add(member)
        db.flush()
        org.members[code] = member.id
        fan = Fan(account_id=account.id, openid=f"o-mk{code}-fan", following=True, followed_at=now,
                  store_id=store.id, member_id=member.id)
        qr = QrCode(account_id=account.id, scene=f"s-{code}", permanent=True, store_id=store.id,
                    channel=f"mk{code}", label=f"mk{code} 门店码", ticket="t", url="u")
        db.add_all([fan, qr])
        db.flush()
        org.codes[code] = qr.id
        db.add_all([
            QrEvent(account_id=account.id, fan_id=fan.id, code_id=qr.id, kind=FOLLOW, scanned=True,
                    scene=qr.scene, at=now),
            FanTag(fan_id=fan.id, name=f"mk{code}tag", source="operator"),
            Purchase(order_id=f"mk{code}-order", member_id=member.id, amount_fen=10000, payment_method="wx",
                     paid_at=now - timedelta(days=1), source="import"),
            Product(code=f"gift-{code}", name=f"mk{code} 礼品", category_id=category.id, points=100, stock=5),
        ])
        conversation = Conversation(account_id=account.id, fan_id=fan.id, store_id=store.id, status=WAITING,
                                    mode=RELAY, opened_at=now, last_activity_at=now)
        db.add(conversation)
        db.flush()
        org.conversations[code] = conversation.id
        db.add(CsMessage(conversation_id=conversation.id, sender="fan", content=f"mk{code} 你好，我的手机 {PHONES[code]}",
                         at=now))
    db.add(Staff(phone=MANAGER_PHONE, name="店长", store_id=org.stores["SA"], roles="manager"))
    surveys(db, account, org, now)
    db.commit()
    for code in STORES:
        with points.transaction(app) as book:
            adjust(book, org.members[code], 500, f"mk{code} 开业奖励", "test", f"seed-{code}")
        with points.transaction(app) as book:
            address = {"name": "王", "phone": PHONES[code], "region": "上海", "detail": "1 号"}
            org.orders[code] = redeem(book, org.members[code], f"gift-{code}", f"submit-{code}", address).id
    for name, args in (("boss", ["--role", "hq"]), ("c1admin", ["--role", "company", "--company", "C1"]),
                       ("samgr", ["--role", "store", "--store", "SA"])):
        result = cli("operators", "add", name, *args)
        assert result.exit_code == 0, result.output
        org.tokens[name] = result.output.strip().splitlines()[-1]
    return org


def surveys(db, account, org: Org, now) -> None:
    shared = Survey(code="shared", title="共用调查", pages=PAGES, stores=[], completed=len(STORES))
    db.add(shared)
    for code in STORES:
        guide = Staff(phone=GUIDES[code], name=f"mk{code} 导游", store_id=org.stores[code], roles="guide")
        own = Survey(code=f"mk{code}-survey", title=f"mk{code} 调查", pages=PAGES, stores=[code], completed=1)
        db.add_all([guide, own])
        db.flush()
        org.guides[code] = guide.id
        for survey in (own, shared):
            link = SurveyLink(survey_id=survey.id, staff_id=guide.id, store_id=org.stores[code], group_code=f"mk{code}",
                              created_at=now)
            db.add(link)
            db.flush()
            db.add(SurveyResponse(link_id=link.id, survey_id=survey.id, account_id=account.id, openid=f"o-mk{code}-fan",
                                  member_id=org.members[code], answers={"said": f"mk{code} 很好，电话 {PHONES[code]}"},
                                  page=1, opened_at=now, started_at=now, completed_at=now))
