"""The results pages for staff, OAuth as the staff member:

  GET /results/<code>        links (opened, started, completed, last), per question with a bar
                             per option, the completion list (names and phones masked)
  GET /results/<code>.csv    the same completions, one row each

Scope is who asks (bot/surveys/results.py): a guide their own links, a store manager their
store's, HQ (a manager of a store of the company coded HQ) everything; anyone else is refused.
"""
import csv
import io

from flask import Response, g, render_template
from sqlalchemy import select

from bot.binding.roles import active_staff
from bot.clock import CST
from bot.surveys import results
from h5.person import person_required
from h5.survey import bp
from h5.web import db, message
from models import Company, Store, Survey
from models.org import GUIDE, MANAGER

HQ_COMPANY = "HQ"


@bp.app_template_filter("china_time")
def china_time(at) -> str:
    return at.astimezone(CST).strftime("%m-%d %H:%M")


def scope_of_person() -> tuple[results.Scope | None, str]:
    """The asking staff member's scope and how the page names it; (None, why) for others."""
    member = g.person.member
    staff = active_staff(db(), member.id) if member else None
    if staff is None:
        return None, "结果页面仅向员工开放：请先在公众号里绑定登记在册的手机号。"
    if MANAGER in staff.role_list:
        store = db().get(Store, staff.store_id)
        if db().scalar(select(Company.code).where(Company.id == store.company_id)) == HQ_COMPANY:
            return results.EVERYTHING, "全部门店"
        return results.Scope(store_id=store.id), store.name
    if GUIDE in staff.role_list:
        return results.Scope(staff_id=staff.id), f"{staff.name}发出的链接"
    return None, "结果页面仅向导游和店长开放。"


def _survey_and_scope(code: str):
    scope, name = scope_of_person()
    if scope is None:
        return None, message("无权查看", name, 403, "warn")
    survey = db().scalar(select(Survey).where(Survey.code == code))
    if survey is None:
        return None, message("没有这份问卷", "没有找到这份问卷，请从公众号回复“问卷结果”重新打开。", 404, "warn")
    return (survey, scope, name), None


@bp.get("/results/<code>")
@person_required
def results_page(code: str):
    """Links, per question aggregates and the completion list, within the asker's scope."""
    found, refusal = _survey_and_scope(code)
    if refusal:
        return refusal
    survey, scope, name = found
    rows = results.completed_responses(db(), survey, scope)
    return render_template("survey/results.html", survey=survey, scope_name=name,
                           links=results.link_stats(db(), scope, survey),
                           questions=results.aggregates(survey, [r[0].answers for r in rows]),
                           completions=results.completion_list(rows))


@bp.get("/results/<code>.csv")
@person_required
def results_csv(code: str):
    """The completions in scope as CSV (phones masked), one row each."""
    found, refusal = _survey_and_scope(code)
    if refusal:
        return refusal
    survey, scope, _name = found
    out = io.StringIO()
    csv.writer(out).writerows(results.csv_rows(survey, results.completed_responses(db(), survey, scope)))
    # A BOM, so Excel on a phone or PC reads the Chinese as UTF-8.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={survey.code}.csv"})
