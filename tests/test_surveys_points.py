"""Completing pays once: retried and concurrent submits of the last
page complete one response and pay its points once, through the survey_complete rule (multipliers
and caps apply); the quota holds under concurrency; the member's SMS goes out once; a non-member
who verifies a phone afterwards is paid once. Each submit is its own transaction, as two
browsers' requests are; run with TEST_DATABASE_URL for PostgreSQL's row locks."""
from pathlib import Path

import pytest
import concurrency_support
from sqlalchemy import func, select

from bot import points
from bot.binding.sms import sent_texts
from bot.jobs import JobBuffer
from bot.surveys import responses
from bot.surveys.links import link_for
from models import Award, LedgerEntry, Member, Survey, SurveyLink, SurveyResponse
from tests.binding_support import load_rules, roster

EXAMPLE = (Path(__file__).parent.parent / "bot/surveys/survey.example.yaml").read_text(encoding="utf-8")
RULES = """
levels:
  tiers: [{code: registered, name: 注册会员, growth: 0}, {code: gold, name: 金卡, growth: 1000}]
rules:
  - {id: bind, trigger: bind, points: 100}
  - {id: survey, trigger: survey_complete, title: 完成问卷, points: 1, growth: 5,
     multipliers: {level: {gold: 2}}}
"""
PAGES = [{"guide": ["5"], "recommend": ["9"]}, {"again": ["会"]}, {}]


@pytest.fixture
def setup(app, db, tmp_path, clock, account):
    load_rules(app, RULES)
    path = tmp_path / "s.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["surveys", "load", str(path)]).exit_code == 0
    db.rollback()
    survey = db.scalar(select(Survey))
    link = link_for(db, survey, roster(db, "13900000001"), "T1", clock.now())
    db.commit()
    return survey.id, link.id, account.id


def member(db, phone: str, level: str = "registered") -> int:
    row = Member(phone=phone, level=level)
    db.add(row)
    db.commit()
    return row.id


def submit(app, ids, openid: str, page: int, member_id=None, jobs_out: list | None = None):
    """One request's work: open (or find) the response, save one page; what it did."""
    survey_id, link_id, account_id = ids
    with points.transaction(app) as book:
        buffer = JobBuffer()
        response = responses.open_response(book.db, book.db.get(SurveyLink, link_id), account_id, openid,
                                           member_id, book.now)
        saved = responses.save_page(book, response, book.db.get(Survey, survey_id), page, PAGES[page], buffer)
        if jobs_out is not None:
            jobs_out += [spec.func for spec in buffer.pending]
    buffer.flush(app.extensions["jobs"])
    return saved


def through(app, ids, openid, member_id=None):
    """The first two pages, saved."""
    for page in range(2):
        assert submit(app, ids, openid, page, member_id).next_page == page + 1


def paid(db, member_id) -> list[int]:
    db.rollback()
    return list(db.scalars(select(LedgerEntry.delta).where(LedgerEntry.member_id == member_id, LedgerEntry.ledger == "points",
                                                           LedgerEntry.source_type == "survey_response")))


def test_a_member_is_paid_the_surveys_points_once_however_often_the_last_page_comes(app, db, setup, jobs):
    ann = member(db, "13800000001")
    through(app, setup, "o-ann", ann)
    queued: list = []
    first = submit(app, setup, "o-ann", 2, ann, queued)
    assert first.completed and queued == ["workers.surveys.sms_points"]
    for _ in range(3):                                           # the browser retries, a second tab
        again = submit(app, setup, "o-ann", 2, ann, queued)
        assert (again.completed, again.refused) == (False, responses.DONE)
    assert paid(db, ann) == [30]                                 # the survey's 30, not the rule's 1
    assert db.scalar(select(func.count()).select_from(Award).where(Award.rule_code == "survey")) == 1
    assert db.scalar(select(Survey.completed)) == 1
    jobs.run_all()
    jobs.run_all()
    texts = [t["text"] for t in sent_texts(app.extensions["redis"]) if t["phone"] == "13800000001"]
    assert texts == ["【旅游集团】您已完成《行程满意度调查》，获得 30 积分，当前 30 积分。"]
    assert db.scalar(select(SurveyResponse.points)) == 30


def test_the_rules_multiplier_applies_to_the_surveys_points(app, db, setup):
    gold = member(db, "13800000002", level="gold")
    through(app, setup, "o-gold", gold)
    assert submit(app, setup, "o-gold", 2, gold).completed
    assert paid(db, gold) == [60]


def test_ten_concurrent_submits_of_the_last_page_pay_once(app, db, setup):
    ann = member(db, "13800000003")
    through(app, setup, "o-ann", ann)
    outcomes = concurrency_support.at_once([lambda: submit(app, setup, "o-ann", 2, ann)] * 10)
    assert sorted(o.completed for o in outcomes) == [False] * 9 + [True]
    assert {o.refused for o in outcomes if not o.completed} == {responses.DONE}
    assert paid(db, ann) == [30]
    assert db.get(Member, ann).points == 30
    assert db.scalar(select(Survey.completed)) == 1


def test_the_quota_holds_when_many_finish_at_once(app, db, setup):
    db.rollback()
    db.scalar(select(Survey)).quota = 3
    db.commit()
    people = [f"o-{n}" for n in range(8)]
    for openid in people:
        through(app, setup, openid)
    outcomes = concurrency_support.at_once([lambda o=o: submit(app, setup, o, 2) for o in people])
    assert sum(o.completed for o in outcomes) == 3
    assert {o.refused for o in outcomes if not o.completed} == {"full"}
    db.rollback()
    assert db.scalar(select(Survey.completed)) == 3
    assert db.scalar(select(func.count(SurveyResponse.completed_at))) == 3


def test_a_non_member_who_verifies_a_phone_afterwards_is_paid_once(app, db, setup, jobs):
    through(app, setup, "o-guest")
    assert submit(app, setup, "o-guest", 2).completed
    assert paid(db, None) == []
    for _ in range(2):
        with points.transaction(app) as book:
            buffer = JobBuffer()
            response = book.db.scalar(select(SurveyResponse).where(SurveyResponse.openid == "o-guest"))
            claimed = responses.claim(book, response, book.db.get(Survey, setup[0]),
                                      book.db.get(SurveyLink, setup[1]), "13800000009", buffer)
        buffer.flush(app.extensions["jobs"])
    db.rollback()
    guest = db.scalar(select(Member).where(Member.phone == "13800000009"))
    assert claimed.member.id == guest.id
    assert sorted(paid(db, guest.id)) == [30]
    assert guest.points == 130                                    # bind 100 + the survey's 30
    jobs.run_all()
    texts = [t["text"] for t in sent_texts(app.extensions["redis"]) if t["phone"] == "13800000009"]
    assert texts == ["【旅游集团】您已完成《行程满意度调查》，获得 30 积分，当前 130 积分。"]
