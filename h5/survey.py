"""The tourist's survey pages, server-rendered WeUI forms, one page at a time:

  GET  /t/<token>          the page to answer next (resume), ?page=N to go back; 已完成 once done
  POST /t/<token>          one page of answers: checked on the server, saved, the next page
  POST /t/<token>/code     a non-member asks for an SMS code for the phone to be paid on
  POST /t/<token>/claim    the code: become (or be recognised as) the member, and be paid

The token is the guide's signed (survey, guide, group) (bot/surveys/links.py): an edited one
opens nothing. OAuth snsapi_base tells us who opens it, follower or not (h5/person.py).
"""
from contextlib import contextmanager

from flask import current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import keys
from bot.binding.verify import Codes
from bot.jobs import committed
from bot.phones import mask_phone, normalize
from bot.points.ledger import Book
from bot.points.notify import tell_members
from bot.surveys import answers, catalog, links, responses
from bot.telling import Teller
from h5.person import person_required
from h5.web import area_blueprint, db, end_reads, message
from models import Survey, SurveyLink, SurveyResponse

bp = area_blueprint("survey", __name__)
BAD_LINK = "这个问卷链接无效（可能被改动过）。请向导游索取新的链接。"
CLOSED = {catalog.CLOSED: ("问卷已结束", "这份问卷已经结束，感谢您的关注。"),
          catalog.FULL: ("问卷已满额", "这份问卷已收满答卷，感谢您的关注。"),
          catalog.NOT_YET: ("问卷还未开始", "这份问卷还没有开始，请稍后再打开。")}
WRONG_CODES = 5       # wrong codes before the code is thrown away (6 digits: no guessing)


@contextmanager
def transaction():
    """(book, jobs) of one write: committed, then members told and jobs queued (like the chat)."""
    app = current_app._get_current_object()
    end_reads()
    with committed(app) as (session, buffer):
        now = app.extensions["clock"].now()
        book = Book(session, now)
        yield book, buffer
        tell_members(book, Teller(session, buffer, now))


def _link(token: str) -> SurveyLink | None:
    read = links.read(current_app.config["SECRET_KEY"], token)
    return links.find(db(), read) if read is not None else None


def _opened(token: str):
    """(link, survey, response) for the person, the response made on first sight; None for a
    token we did not sign."""
    link = _link(token)
    if link is None:
        return None
    person = g.person
    with transaction() as (book, _jobs):
        found = responses.open_response(book.db, book.db.merge(link), person.account.id, person.openid,
                                        person.member.id if person.member else None, book.now)
        response_id = found.id
    session = db()
    return link, session.get(Survey, link.survey_id), session.get(SurveyResponse, response_id)


@bp.get("/t/<token>")
@person_required
def answer(token: str):
    """The page to answer now: where the person left off, or 已完成 with the points."""
    opened = _opened(token)
    if opened is None:
        return message("链接无效", BAD_LINK, 404, "warn")
    _link_row, survey, response = opened
    if response.completed_at is not None:
        return _done(token, survey, response)
    closed = catalog.state(survey, current_app.extensions["clock"].now())
    if closed is not None:
        return message(*CLOSED[closed], 200, "info")
    asked, pages = request.args.get("page", ""), survey.pages
    page = int(asked) if asked.isdigit() else None
    # ?page=N goes back to a page already reached; anything else is where the person left off.
    if page is None or page > response.page or page >= len(pages) or not answers.shown(pages[page], response.answers):
        page = answers.next_page(pages, response.answers, response.page)
    if page is None:           # every page saved but not completed (a full survey meanwhile)
        return message(*CLOSED[catalog.FULL], 200, "info")
    return _page(token, survey, response, page, {}, {})


def _page(token, survey, response, page: int, errors: dict, sent: dict, status: int = 200):
    shown = answers.shown(survey.pages[page], response.answers)
    values = {q["id"]: sent.get(q["id"], _as_strings(response.answers.get(q["id"]))) for q in shown}
    earlier = [n for n in range(page) if answers.shown(survey.pages[n], response.answers)]
    return render_template("survey/page.html", survey=survey, token=token, page=page, questions=shown,
                           values=values, errors=errors, back=earlier[-1] if earlier else None,
                           last=answers.next_page(survey.pages, response.answers, page + 1) is None,
                           number=len(earlier) + 1, share_title=survey.title, share_desc=survey.intro), status


def _as_strings(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@bp.post("/t/<token>")
@person_required
def save(token: str):
    """Check and save one page; the next page, the same page with what is wrong, or 已完成."""
    link = _link(token)
    page = request.form.get("page", "")
    if link is None or not page.isdigit():
        return message("链接无效", BAD_LINK, 404, "warn")
    person = g.person
    with transaction() as (book, jobs):
        response = book.db.scalar(select(SurveyResponse).where(SurveyResponse.link_id == link.id,
                                                              SurveyResponse.openid == person.openid))
        if response is None:
            return redirect(url_for("survey.answer", token=token), 303)
        survey = book.db.get(Survey, link.survey_id)
        saved = responses.save_page(book, response, survey, int(page), request.form, jobs)
    if saved.errors:
        sent = {key: request.form.getlist(key) for key in request.form}
        return _page(token, survey, response, int(page), saved.errors, sent, 400)
    if saved.refused in CLOSED:
        return message(*CLOSED[saved.refused], 200, "info")
    return redirect(url_for("survey.answer", token=token), 303)


def _done(token: str, survey: Survey, response: SurveyResponse, **extra):
    """已完成: the points earned, or (a non-member) the phone form that pays them."""
    member = g.person.member
    can_claim = response.member_id is None and survey.points > 0 and member is None
    return render_template("survey/done.html", survey=survey, response=response, token=token,
                           can_claim=can_claim, share_title=survey.title, **extra)


def _completed_response(token: str):
    link = _link(token)
    if link is None:
        return None, None
    session = db()
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.link_id == link.id,
                                                          SurveyResponse.openid == g.person.openid))
    if response is None or response.completed_at is None:
        return None, None
    return response, session.get(Survey, link.survey_id)


def _codes() -> Codes:
    person = g.person
    return Codes(current_app.extensions["redis"], person.account.slug, person.openid,
                 current_app.extensions["clock"].now())


@bp.post("/t/<token>/code")
@person_required
def send_code(token: str):
    """Send an SMS code to the phone the non-member typed."""
    response, survey = _completed_response(token)
    if response is None:
        return redirect(url_for("survey.answer", token=token), 303)
    phone = normalize(request.form.get("phone", ""))
    if phone is None:
        return _done(token, survey, response, error="手机号格式不对，请填写 11 位中国大陆手机号。"), 400
    issued = _codes().issue(phone)
    if issued.sent_at is None:
        return _done(token, survey, response, error=issued.refusal, phone=phone), 429
    with transaction() as (_book, jobs):
        jobs("workers.sms.send_code", g.person.account.slug, g.person.openid, issued.sent_at, queue="high")
    return _done(token, survey, response, phone=phone, sent_to=mask_phone(phone))


@bp.post("/t/<token>/claim")
@person_required
def claim(token: str):
    """Check the code; then the person is the member of that phone and is paid once."""
    response, survey = _completed_response(token)
    if response is None:
        return redirect(url_for("survey.answer", token=token), 303)
    codes, typed = _codes(), request.form.get("code", "").strip()
    phone = codes.phone()
    verdict = codes.check(typed) if phone else "expired"
    redis, wrong_key = current_app.extensions["redis"], keys.survey_wrong_codes(g.person.account.slug, g.person.openid)
    if verdict != "ok":
        wrong = 0
        if verdict == "wrong":
            wrong = redis.incr(wrong_key)
            redis.expire(wrong_key, keys.SURVEY_WRONG_CODES_TTL)
        if wrong >= WRONG_CODES:
            codes.clear()
        text = "验证码不对，请再输入一次。" if verdict == "wrong" and wrong < WRONG_CODES else "验证码已失效，请重新获取。"
        return _done(token, survey, response, error=text, phone=phone or "",
                     sent_to=mask_phone(phone) if phone else None), 400
    redis.delete(wrong_key)
    with transaction() as (book, jobs):
        row = book.db.get(SurveyResponse, response.id)
        claimed = responses.claim(book, row, book.db.get(Survey, survey.id), book.db.get(SurveyLink, row.link_id),
                                  phone, jobs)
    if claimed.member is None:
        return _done(token, survey, response, error=f"手机号 {mask_phone(phone)} 已绑定另一个微信，请用那个微信打开链接。"), 409
    return redirect(url_for("survey.answer", token=token), 303)

