"""The guide in the chat: 问卷 → a number → 团号 or 跳过 → a one-article news card to
forward, the same link when asked again, a token that cannot be edited, and 问卷结果 whose numbers
are the database's. Transcripts through the webhook with signed XML."""
from datetime import timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import points
from bot.clock import CST
from bot.jobs import JobBuffer
from bot.surveys import links, responses
from handlers.survey import ASK_GROUP, BAD_GROUP, GUIDES_ONLY, NO_LINKS, NOT_GUIDE
from models import Survey, SurveyLink, SurveyResponse
from tests.binding_support import bind, load_rules, roster

EXAMPLE = (Path(__file__).parent.parent / "bot/surveys/survey.example.yaml").read_text(encoding="utf-8")
WANG = "13900000001"
LIST = "请回复编号选择要发送的问卷：\n1. 行程满意度调查（完成得 30 积分）\n回复“取消”退出。"


@pytest.fixture
def surveys(app, tmp_path):
    load_rules(app)
    path = tmp_path / "survey.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["surveys", "load", str(path)]).exit_code == 0


def staff_person(app, phone, db, jobs, name: str, number: str, roles: str = "guide"):
    roster(db, number, name=name, roles=roles)
    person = phone(name)
    person.follow()
    bind(person, app, jobs, number)
    jobs.run_all()
    return person


@pytest.fixture
def wang(app, phone, db, jobs, surveys):
    return staff_person(app, phone, db, jobs, "wang", WANG)


def card(person) -> dict:
    """The one article of the person's last reply (a news reply, §3.4)."""
    assert person.last.type == "news", person.last.fields
    assert person.last.fields["ArticleCount"] == "1"
    return person.last.fields["Articles"]["item"]


def test_a_guide_gets_a_card_to_forward_and_the_same_link_again(wang, db):
    assert wang.text("问卷") == LIST
    assert wang.text("1") == ASK_GROUP
    wang.text("hz-1201")
    first = card(wang)
    assert first["Title"] == "行程满意度调查（团号 HZ-1201）"
    assert first["Description"].startswith("感谢您参加本次行程！") and first["Description"].endswith("完成即得 30 积分。")
    assert first["PicUrl"] == "http://127.0.0.1:5000/h5/static/survey/cover.png"
    assert first["Url"].startswith("http://127.0.0.1:5000/h5/hq/survey/t/")
    wang.text("问卷")
    wang.text("1")
    wang.text("HZ-1201")
    assert card(wang)["Url"] == first["Url"]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(SurveyLink)) == 1
    wang.text("问卷")
    wang.text("1")
    wang.text("跳过")
    assert card(wang)["Title"] == "行程满意度调查"
    assert card(wang)["Url"] != first["Url"]


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_the_card_survives_encryption_and_a_retried_push_gets_the_same_card(app, phone, db, jobs, surveys, mode):
    guide = staff_person(app, phone, db, jobs, "zhao", "13900000003")
    guide.mode = mode
    guide.text("问卷")
    guide.text("1")
    xml = guide.xml({"MsgType": "text", "Content": "T9", "MsgId": 7_460_000_000_000_000_001})
    once, again = guide.deliver(xml), guide.deliver(xml)
    assert once.type == again.type == "news"
    assert once.fields["Articles"] == again.fields["Articles"]


def test_wrong_numbers_and_groups_are_asked_again(wang):
    wang.text("问卷")
    assert wang.text("3") == "请回复 1 到 1 之间的编号选择问卷，或回复“取消”退出。"
    assert wang.text("一") == "请回复 1 到 1 之间的编号选择问卷，或回复“取消”退出。"
    assert wang.text("1") == ASK_GROUP
    assert wang.text("杭州 一日游") == BAD_GROUP
    assert wang.text("取消") == "已退出当前操作。需要时可以从菜单重新开始。"


def test_only_guides_send_surveys(app, phone, db, jobs, surveys):
    tourist = phone("tourist")
    tourist.follow()
    assert tourist.text("问卷") == GUIDES_ONLY
    agent = staff_person(app, phone, db, jobs, "agent", "13900000009", roles="agent")
    assert agent.text("问卷") == NOT_GUIDE
    assert agent.text("问卷结果") == NOT_GUIDE


def test_a_closed_or_full_survey_is_not_offered(app, wang, db, clock):
    db.rollback()
    survey = db.scalar(select(Survey))
    survey.quota, survey.completed = 1, 1
    db.commit()
    assert wang.text("问卷") == "现在没有可以发送的问卷。问卷由总部上传，开放后回复“问卷”即可发送。"


def test_an_edited_or_forged_token_reads_as_nothing(app, wang, db):
    wang.text("问卷")
    wang.text("1")
    wang.text("T1")
    token = card(wang)["Url"].rsplit("/", 1)[1]
    secret = app.config["SECRET_KEY"]
    read = links.read(secret, token)
    db.rollback()
    link = db.scalar(select(SurveyLink))
    assert (read.survey_id, read.staff_id, read.group) == (link.survey_id, link.staff_id, "T1")
    payload, signature = token.rsplit(".", 1)
    other = links._serializer("not-our-secret").dumps([link.survey_id + 1, link.staff_id, "T1"])
    moved = other.rsplit(".", 1)[0] + "." + signature           # another survey, our signature
    for bad in (moved, other, payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
                payload, "", "x.y"):
        assert links.read(secret, bad) is None, bad


def test_progress_numbers_are_the_databases(app, wang, db, clock, account):
    assert wang.text("问卷结果") == NO_LINKS
    wang.text("问卷")
    wang.text("1")
    wang.text("T1")
    db.rollback()
    link, survey = db.scalar(select(SurveyLink)), db.scalar(select(Survey))
    plan = {"o1": 3, "o2": 3, "o3": 1, "o4": 0}          # pages each tourist gets through
    forms = [{"guide": ["5"], "recommend": ["9"]}, {"again": ["会"]}, {}]
    for openid, pages in plan.items():
        clock.advance(minutes=7)
        with points.transaction(app) as book:
            response = responses.open_response(book.db, book.db.merge(link), account.id, openid, None, clock.now())
            for page in range(pages):
                responses.save_page(book, response, book.db.get(Survey, survey.id), page, forms[page], JobBuffer())
    db.rollback()
    counted = [db.scalar(select(func.count(column)).where(SurveyResponse.link_id == link.id))
               for column in (SurveyResponse.id, SurveyResponse.started_at, SurveyResponse.completed_at)]
    last = db.scalar(select(func.max(SurveyResponse.completed_at)))
    assert counted == [4, 3, 2]
    answer = wang.text("问卷结果")
    assert answer.startswith("您发出的问卷（最近 1 个链接）：\n1. 行程满意度调查（团号 T1）\n")
    assert (f"打开 {counted[0]} 人，开始 {counted[1]} 人，完成 {counted[2]} 人，"
            f"最近完成 {last.replace(tzinfo=timezone.utc).astimezone(CST):%m-%d %H:%M}") in answer
    assert "最近完成 11-23 18:14" in answer            # o2, the second tourist, 14 minutes in
    assert answer.endswith("结果：http://127.0.0.1:5000/h5/hq/survey/results/trip-feedback")


def test_a_manager_sees_the_stores_links_with_the_guides_names(app, phone, wang, db, jobs):
    wang.text("问卷")
    wang.text("1")
    wang.text("T1")
    boss = staff_person(app, phone, db, jobs, "boss", "13900000005", roles="manager")
    assert "1. 行程满意度调查（团号 T1，wang）" in boss.text("问卷结果")
