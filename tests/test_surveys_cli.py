"""Operators load surveys as data (line-numbered errors, all or nothing), list them and read the
results on the command line; the server's own checks of a page of answers, as a table."""
import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import points
from bot.jobs import JobBuffer
from bot.surveys import answers, responses
from bot.surveys.definition import SurveyFileError, parse
from bot.surveys.links import link_for
from models import Survey, SurveyLink
from tests.binding_support import load_rules, roster

EXAMPLE = (Path(__file__).parent.parent / "bot/surveys/survey.example.yaml").read_text(encoding="utf-8")


def write(tmp_path, text: str, name: str = "survey.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_a_bad_file_names_each_line_and_writes_nothing(app, db, tmp_path):
    bad = (EXAMPLE.replace("kind: nps", "kind: stars")
           .replace("options: [会, 不一定, 不会]", "options: [会]")
           .replace("show_if: {question: guide, at_most: 2}", "show_if: {question: again, equals: 会}")
           .replace("quota: 500", "quota: 0"))
    result = cli(app, "surveys", "load", write(tmp_path, bad))
    assert result.exit_code == 1
    lines = EXAMPLE.splitlines()
    at = lambda text: next(n for n, line in enumerate(lines, 1) if text in line)  # noqa: E731
    assert f"line {at('quota: 500')}: 'quota' must be a whole number ≥ 1" in result.output
    assert f"line {at('kind: nps')}: 'kind' is one of single, multiple, text, rating, nps, date" in result.output
    assert (f"line {at('show_if: {question: guide')}: 'show_if' names 'again', which is no question of an "
            "earlier page") in result.output
    assert f"line {at('options: [会, 不一定')}: a single question needs 'options'" in result.output
    assert db.scalar(select(Survey)) is None


def test_unknown_stores_and_broken_yaml_are_refused_by_line(app, db, tmp_path):
    result = cli(app, "surveys", "load", write(tmp_path, EXAMPLE.replace("quota: 500", "quota: 500\nstores: [NOPE]")))
    assert result.exit_code == 1
    assert "line 12: store 'NOPE' is not a store (stores import)" in result.output
    broken = cli(app, "surveys", "load", write(tmp_path, "code: x\ntitle: [unclosed\n"))
    assert broken.exit_code == 1 and broken.output.startswith("line ")
    assert db.scalar(select(Survey)) is None


def test_check_then_load_then_reload_keeps_links_and_counts(app, db, tmp_path):
    load_rules(app)
    path = write(tmp_path, EXAMPLE)
    checked = cli(app, "surveys", "load", path, "--check")
    assert checked.exit_code == 0 and "1 surveys OK; nothing written (--check)." in checked.output
    assert db.scalar(select(Survey)) is None
    assert "1 surveys loaded (1 new)" in cli(app, "surveys", "load", path).output
    db.rollback()
    survey = db.scalar(select(Survey))
    guide = roster(db, "13900000001")
    link_for(db, survey, guide, "T1", survey.updated_at)
    db.commit()
    again = cli(app, "surveys", "load", write(tmp_path, EXAMPLE.replace("points: 30", "points: 40")))
    assert "1 surveys loaded (0 new); links and responses kept." in again.output
    db.rollback()
    db.expire_all()
    assert db.scalar(select(Survey.points)) == 40
    assert db.scalar(select(SurveyLink.group_code)) == "T1"
    listed = cli(app, "surveys", "list").output
    assert listed.startswith("trip-feedback\t行程满意度调查\t2026-01-01~2026-12-31\t40分\tcompleted 0/500\tlinks 1\topen")


def test_points_without_a_survey_rule_warn_that_nothing_is_paid(app, tmp_path):
    result = cli(app, "surveys", "load", write(tmp_path, EXAMPLE))
    assert result.exit_code == 0
    assert "warning: no survey_complete rule is in force" in result.output


def test_several_surveys_in_one_file_and_a_code_twice(tmp_path):
    one = "  - {code: a, title: A, pages: [{questions: [{id: q, kind: text, title: Q}]}]}\n"
    assert [s["code"] for s in parse("surveys:\n" + one + one.replace("code: a", "code: b"))] == ["a", "b"]
    with pytest.raises(SurveyFileError) as err:
        parse("surveys:\n" + one + one)
    assert err.value.problems == [(3, "survey code a appears twice")]


QUESTIONS = parse(EXAMPLE)[0]["pages"]


@pytest.mark.parametrize("page, form, before, expected, errors", [
    (0, {"guide": ["5"], "recommend": ["10"]}, {}, {"guide": 5, "recommend": 10}, {}),
    (0, {"guide": ["6"], "recommend": ["0"]}, {}, {"recommend": 0}, {"guide": "请选择 1 到 5 之间的分数"}),
    (0, {"recommend": ["3"]}, {}, {"recommend": 3}, {"guide": answers.REQUIRED}),
    (0, {"guide": ["4", "5"], "recommend": ["x"]}, {}, {},
     {"guide": "此题只能填一个答案", "recommend": "请选择 0 到 10 之间的分数"}),
    # skip logic: "why" shows only after a rating of 2 or less, and is then required
    (1, {"again": ["会"]}, {"guide": 5}, {"again": "会"}, {}),
    (1, {"again": ["会"], "why": ["太赶"]}, {"guide": 5}, {"again": "会"}, {}),
    (1, {"again": ["会"]}, {"guide": 1}, {"again": "会"}, {"why": answers.REQUIRED}),
    (1, {"again": ["会"], "why": ["太赶"], "liked": ["宋城", "西湖"]}, {"guide": 2},
     {"again": "会", "why": "太赶", "liked": ["西湖", "宋城"]}, {}),
    (1, {"again": ["也许"], "liked": ["长城"]}, {"guide": 5}, {},
     {"again": "请从给出的选项中选择", "liked": "请从给出的选项中选择"}),
    (2, {"next_trip": ["2027-02-30"]}, {}, {}, {"next_trip": "请填写日期，如 2026-12-01"}),
    (2, {"next_trip": ["2027-02-03"]}, {}, {"next_trip": "2027-02-03"}, {}),
])
def test_the_server_checks_every_answer(page, form, before, expected, errors):
    assert answers.check_page(QUESTIONS[page], form, before) == (expected, errors)


def test_results_and_csv_on_the_command_line(app, db, tmp_path, clock, account):
    load_rules(app)
    cli(app, "surveys", "load", write(tmp_path, EXAMPLE))
    db.rollback()
    survey = db.scalar(select(Survey))
    wang, li = roster(db, "13900000001", name="王导"), roster(db, "13900000002", name="李导")
    first, second = link_for(db, survey, wang, "T1", clock.now()), link_for(db, survey, li, "", clock.now())
    db.commit()
    filled = [(first, "o1", {"guide": ["5"], "recommend": ["9"]}), (first, "o2", {"guide": ["3"], "recommend": ["7"]}),
              (second, "o3", {"guide": ["4"], "recommend": ["8"]})]
    for link, openid, page0 in filled:
        with points.transaction(app) as book:
            book_jobs = JobBuffer()
            response = responses.open_response(book.db, book.db.merge(link), account.id, openid, None, clock.now())
            survey_row = book.db.get(Survey, survey.id)
            assert responses.save_page(book, response, survey_row, 0, page0, book_jobs).next_page == 1
            assert responses.save_page(book, response, survey_row, 1, {"again": ["会"]}, book_jobs).next_page == 2
            assert responses.save_page(book, response, survey_row, 2, {}, book_jobs).completed
    table = cli(app, "surveys", "results", "trip-feedback").output
    assert "\t王导\t西湖门店\t团号 T1\topened 2\tstarted 2\tcompleted 2\tlast 2026-11-23 18:00" in table
    assert "\t李导\t西湖门店\t团号 -\topened 1\tstarted 1\tcompleted 1" in table
    assert "guide\t您对导游的服务满意吗？\tanswered 3\taverage 4.0" in table
    mine = cli(app, "surveys", "results", "trip-feedback", "--guide", "13900000001", "--format", "csv").output
    rows = list(csv.reader(io.StringIO(mine)))
    assert rows[0][:7] == ["response", "completed_at", "guide", "store", "group", "member_phone", "points"]
    assert [(r[2], r[4], r[rows[0].index("q.guide")]) for r in rows[1:]] == [("王导", "T1", "5"), ("王导", "T1", "3")]
    assert cli(app, "surveys", "results", "nope").exit_code == 1
