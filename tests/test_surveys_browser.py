"""Surveys in a real browser: Debian's headless Chromium at 375x812 with
WeChat's user agent, against the test app served over HTTP. The guide gets the card in the chat;
a member opens it, answers page 1, leaves half-way, comes back to page 2 (skip logic showed the
follow-up, required is enforced), finishes, and a second visit shows 已完成 with the points; the
guide's results page shows the numbers. Screenshots go to tests/artifacts/."""
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import func, select

from h5_browser_support import ARGS, ARTIFACTS, CHROMIUM, phone_page, sign_in
from models import SurveyResponse
from tests.binding_support import bind, load_rules, roster

pytestmark = pytest.mark.served     # conftest's app, served over HTTP at its public address

EXAMPLE = (Path(__file__).parent.parent / "bot/surveys/survey.example.yaml").read_text(encoding="utf-8")


def person(app, phone, jobs, name, number):
    who = phone(name)
    who.follow()
    bind(who, app, jobs, number)
    jobs.run_all()
    return who


def test_a_tourist_fills_leaves_comes_back_finishes_and_the_guide_sees_it(app, phone, db, jobs, tmp_path, chromium_env):
    load_rules(app)
    path = tmp_path / "survey.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["surveys", "load", str(path)]).exit_code == 0
    roster(db, "13900000001", name="王导")
    wang = person(app, phone, jobs, "wang", "13900000001")
    assert wang.text("问卷").startswith("请回复编号选择要发送的问卷")
    wang.text("1")
    wang.text("T1")
    url = wang.last.fields["Articles"]["item"]["Url"]
    base = app.config["PUBLIC_BASE_URL"]
    ann = person(app, phone, jobs, "ann", "13800000001")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=chromium_env)
        context, page = phone_page(browser, ann.openid)
        sign_in(page, base, ann.openid, url[len(base):])
        expect(page.locator("#progress")).to_contain_text("第 1 页")
        page.screenshot(path=str(ARTIFACTS / "survey-1-first-page.png"), full_page=True)
        page.click("#next")                                             # nothing answered: required
        expect(page.locator("[data-error=guide]")).to_have_text("此题必答")
        page.locator('input[name="guide"][value="2"] + span').click()
        page.locator('input[name="recommend"][value="6"] + span').click()
        page.click("#next")
        expect(page.locator("#progress")).to_contain_text("第 2 页")
        expect(page.locator("#q-why")).to_contain_text("哪里让您不满意？")   # shown after a 2
        context.close()                                                 # she leaves half-way

        context, page = phone_page(browser, ann.openid)
        sign_in(page, base, ann.openid, url[len(base):])
        expect(page.locator("#progress")).to_contain_text("第 2 页")        # resumed where she left
        page.locator('label:has(input[name="again"][value="会"])').click()
        page.click("#next")
        expect(page.locator("[data-error=why]")).to_have_text("此题必答")
        page.screenshot(path=str(ARTIFACTS / "survey-2-required-after-skip-logic.png"), full_page=True)
        page.fill('textarea[name="why"]', "行程有点赶")
        page.locator('label:has(input[name="liked"][value="西湖"])').click()
        page.click("#next")
        expect(page.locator("#next")).to_have_text("提交")
        page.click("#next")
        expect(page.locator("#done")).to_have_text("已完成")
        expect(page.locator("#earned")).to_have_text("30")
        page.screenshot(path=str(ARTIFACTS / "survey-3-done.png"), full_page=True)
        page.goto(url)                                                  # a second attempt
        expect(page.locator("#done")).to_have_text("已完成")
        context.close()

        context, page = phone_page(browser, wang.openid)
        sign_in(page, base, wang.openid, "/h5/hq/survey/results/trip-feedback")
        expect(page.locator("#total")).to_have_text("1")
        expect(page.locator("#links")).to_contain_text("完成 1")
        page.screenshot(path=str(ARTIFACTS / "survey-4-results.png"), full_page=True)
        context.close()
        browser.close()
    db.rollback()
    assert db.scalar(select(func.count(SurveyResponse.completed_at))) == 1
    assert "完成 1 人" in wang.text("问卷结果")
