"""The tourist's pages and the staff's results through the H5 foundation, with
a phone's browser on Flask's test client: OAuth snsapi_base by the sandbox, CSRF, the signed link."""
import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from bot.binding.sms import sent_texts
from h5_support import Browser
from models import Company, LedgerEntry, Member, Store, SurveyResponse
from tests.binding_support import bind, last_code, load_rules, roster

EXAMPLE = (Path(__file__).parent.parent / "bot/surveys/survey.example.yaml").read_text(encoding="utf-8")
WANG = "13900000001"


@pytest.fixture
def card_url(app, phone, db, jobs, tmp_path):
    """王导 (a guide of 西湖门店) asks for the survey for group T1: the link in the card."""
    load_rules(app)
    path = tmp_path / "survey.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["surveys", "load", str(path)]).exit_code == 0
    roster(db, WANG, name="王导")
    wang = phone("wang")
    wang.follow()
    bind(wang, app, jobs, WANG)
    jobs.run_all()
    wang.text("问卷")
    wang.text("1")
    wang.text("T1")
    return wang.last.fields["Articles"]["item"]["Url"]


def local(app, url: str) -> str:
    return url[len(app.config["PUBLIC_BASE_URL"]):]


def response_of(db, openid: str) -> SurveyResponse | None:
    db.rollback()
    return db.scalar(select(SurveyResponse).where(SurveyResponse.openid == openid))


def test_a_member_fills_leaves_half_way_comes_back_and_finishes(app, phone, db, jobs, card_url, world):
    ann = phone("ann")
    ann.follow()
    bind(ann, app, jobs, "13800000001")
    jobs.run_all()
    path = local(app, card_url)
    browser = Browser(app, ann.openid)
    page = browser.get(path)
    assert page.status_code == 200 and "第 1 页" in browser.text() and "您对导游的服务满意吗？" in browser.text()
    assert browser.post(path, {"page": "0", "guide": "2", "recommend": "6"}).status_code == 200
    assert "哪里让您不满意？" in browser.text()                  # skip logic: shown after a 2
    assert response_of(db, ann.openid).answers == {"guide": 2, "recommend": 6}
    later = Browser(app, ann.openid)                            # she closes WeChat, opens the link again
    later.get(path)
    assert "第 2 页" in later.text() and "哪里让您不满意？" in later.text()
    assert later.post(path, {"page": "1", "again": "会"}).status_code == 400
    assert "此题必答" in later.text()                            # "why" is required once shown
    later.post(path, {"page": "1", "again": "会", "why": "行程太赶", "liked": ["西湖", "宋城"]})
    assert "第 3 页" in later.text() and "提交" in later.text()
    last_form = later.last
    later.post(path, {"page": "2", "next_trip": "2027-05-01"})
    assert "已完成" in later.text() and re.search(r'id="earned">30<', later.text())
    db.rollback()
    member = db.scalar(select(Member).where(Member.phone == "13800000001"))
    assert member.points == 140                                  # bind 100, follow 10, survey 30
    jobs.run_all()
    assert any("您已完成《行程满意度调查》，获得 30 积分" in t["text"] for t in sent_texts(app.extensions["redis"]))
    told = [m.get("content") or "" for m in world.messages_to(ann.account.appid, ann.openid)]
    assert any("积分 +30" in t and "当前积分 140" in t for t in told)    # the chat too, told once
    assert sum("积分 +30" in t for t in told) == 1
    again = Browser(app, ann.openid)
    again.get(path)
    assert "已完成" in again.text() and "您已获得" in again.text()
    later.last = last_form                                      # the form she still had open, submitted again
    assert later.post(path, {"page": "0", "guide": "5", "recommend": "10"}).status_code == 200
    assert "已完成" in later.text()
    assert response_of(db, ann.openid).answers["guide"] == 2    # a completed response never changes


def test_a_non_member_who_never_followed_enters_a_phone_and_code_and_is_paid(app, phone, db, jobs, card_url):
    guest = phone("guest")                                       # never followed: OAuth only
    path = local(app, card_url)
    browser = Browser(app, guest.openid)
    browser.get(path)
    browser.post(path, {"page": "0", "guide": "5", "recommend": "9"})
    browser.post(path, {"page": "1", "again": "不一定"})
    browser.post(path, {"page": "2"})
    assert "已完成" in browser.text() and "领取 30 积分" in browser.text()
    browser.post(path + "/code", {"phone": "1380000"})
    assert "手机号格式不对" in browser.text()
    browser.post(path + "/code", {"phone": "13800000077"})
    assert "验证码已发送至 138****0077" in browser.text()
    code = last_code(app, jobs)
    browser.post(path + "/claim", {"code": "000000" if code != "000000" else "111111"})
    assert "验证码不对" in browser.text()
    browser.post(path + "/claim", {"code": code})
    assert "您已获得" in browser.text() and "领取" not in browser.text()
    db.rollback()
    member = db.scalar(select(Member).where(Member.phone == "13800000077"))
    entries = db.scalars(select(LedgerEntry.delta).where(LedgerEntry.member_id == member.id,
                                                          LedgerEntry.source_type == "survey_response")).all()
    assert entries == [30]
    assert response_of(db, guest.openid).member_id == member.id


def test_an_edited_token_opens_nothing(app, phone, card_url):
    path = local(app, card_url)
    browser = Browser(app, phone("eve").openid)
    edited = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert browser.get(edited).status_code == 404 and "链接无效" in browser.text()
    assert browser.get(path.rsplit(".", 1)[0]).status_code == 404


def test_results_are_scoped_by_who_asks(app, phone, db, jobs, card_url):
    path = local(app, card_url)
    for name in ("t1", "t2"):
        b = Browser(app, phone(name).openid)
        b.get(path)
        b.post(path, {"page": "0", "guide": "4", "recommend": "8"})
        b.post(path, {"page": "1", "again": "会", "liked": ["西湖"]})
        b.post(path, {"page": "2"})
    results = "/h5/hq/survey/results/trip-feedback"
    wang = Browser(app, phone("wang").openid)
    wang.get(results)
    assert 'id="total">2<' in wang.text() and 'data-count="liked:西湖">2<' in wang.text()
    assert "打开 <b>2</b> · 开始 <b>2</b> · 完成 <b>2</b>" in wang.text()
    csv_rows = list(csv.reader(io.StringIO(wang.client.get(results + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(csv_rows) == 3 and csv_rows[1][csv_rows[0].index("q.guide")] == "4"
    # another guide of another store sees none of it; a tourist is refused
    roster(db, "13900000002", name="李导", store="灵隐门店")
    li = phone("li")
    li.follow()
    bind(li, app, jobs, "13900000002")
    jobs.run_all()
    other = Browser(app, li.openid)
    other.get(results)
    assert 'id="total">0<' in other.text() and "还没有链接" in other.text()
    tourist = Browser(app, phone("t1").openid)
    assert tourist.get(results).status_code == 403
    # HQ: a manager of a store of the company coded HQ sees everything
    db.rollback()
    hq = Company(code="HQ", name="总部")
    db.add(hq)
    db.commit()
    boss = roster(db, "13900000003", name="总部", roles="manager", store="总部门店")
    db.rollback()
    store = db.get(Store, boss.store_id)
    store.company_id = hq.id
    db.commit()
    head = phone("head")
    head.follow()
    bind(head, app, jobs, "13900000003")
    jobs.run_all()
    top = Browser(app, head.openid)
    top.get(results)
    assert 'id="total">2<' in top.text() and "全部门店" in top.text()


# --- fuzzing the page POSTs --------------------------------------------------------------------
OPTIONS = {"liked": {"西湖", "灵隐寺", "宋城", "西溪湿地"}, "again": {"会", "不一定", "不会"}}
ANSWER = st.one_of(st.text(max_size=30), st.sampled_from(["0", "1", "5", "6", "10", "11", "-1", "3.5", "１",
                                                          "会", "西湖", "2027-05-01", "2027-02-30", ""]),
                   st.sampled_from(["长", "a"]).map(lambda c: c * 3000))
FUZZED_FORM = st.fixed_dictionaries(
    {"page": st.one_of(st.sampled_from(["0", "1", "2", "3", "99"]), st.text(max_size=5))},
    optional={key: st.one_of(ANSWER, st.lists(ANSWER, max_size=4))
              for key in ("guide", "recommend", "why", "liked", "again", "next_trip", "csrf_token", "stray")})
# Pages a person could really send, so the fuzzed ones meet stored answers to spoil.
SENSIBLE_FORM = st.one_of(
    st.fixed_dictionaries({"page": st.just("0"), "guide": st.integers(1, 5).map(str),
                           "recommend": st.integers(0, 10).map(str)}),
    st.fixed_dictionaries({"page": st.just("1"), "again": st.sampled_from(sorted(OPTIONS["again"])),
                           "why": st.text(min_size=1, max_size=20)},
                          optional={"liked": st.lists(st.sampled_from(sorted(OPTIONS["liked"])), max_size=4)}))
PAGE_FORM = st.one_of(SENSIBLE_FORM, FUZZED_FORM)


def answer_is_sound(key: str, value) -> bool:
    """What a stored answer may be, whatever was posted (the survey's own question kinds)."""
    if key == "guide":
        return isinstance(value, int) and 1 <= value <= 5
    if key == "recommend":
        return isinstance(value, int) and 0 <= value <= 10
    if key == "liked":
        return isinstance(value, list) and set(value) <= OPTIONS["liked"]
    if key == "again":
        return value in OPTIONS["again"]
    if key == "next_trip":
        from datetime import date
        return isinstance(value, str) and date.fromisoformat(value) is not None
    return key == "why" and isinstance(value, str) and 0 < len(value) <= 3000


def test_fuzzed_survey_pages_never_fail_and_store_only_sound_answers(app, phone, db, jobs, card_url):
    """Any page number, any values (strings, repeated fields, huge text, stray keys) for any
    question, posted again and again to one response: never a 500, and every answer ever stored
    is one its question allows; a rejected page leaves the stored answers as they were."""
    path = local(app, card_url)
    ann = phone("ann")
    browser = Browser(app, ann.openid)
    browser.get(path)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.text()).group(1)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(form=PAGE_FORM)
    def one(form):
        before = (response_of(db, ann.openid).answers or {}).copy()
        response = browser.client.post(path, data={**form, "csrf_token": csrf})
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        stored = response_of(db, ann.openid).answers or {}
        assert all(answer_is_sound(k, v) for k, v in stored.items()), stored
        if response.status_code == 400:
            assert stored == before
        saved.append(len(stored))
    saved = []
    one()
    assert max(saved) >= 2                 # the property met stored answers, not only empty ones
