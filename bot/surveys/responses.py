"""One response per person per link: opened, saved page by page, completed once, paid once.

Completing is two guarded UPDATEs in the caller's transaction: the response's `completed_at`
moves from NULL (a retried or concurrent submit finds it set and changes nothing), then the
survey's `completed` moves under its quota (a full survey refuses, and the savepoint undoes the
first). Paying goes through the points engine's survey_complete rules with the survey's points
as the base, keyed by the response: the ledger pays it once whatever calls it again.
"""
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.binding import membership
from bot.points.engine import fire
from bot.points.ledger import Book
from bot.surveys import answers as check
from bot.surveys import catalog
from models import Fan, Member, Survey, SurveyLink, SurveyResponse

SOURCE = "survey_response"


@dataclass
class Saved:
    """What saving one page did: the errors to show again, or where to go next."""

    errors: dict = field(default_factory=dict)
    next_page: int | None = None     # the page to show next; None when the survey was completed
    completed: bool = False          # this submit completed the response
    refused: str | None = None       # catalog.FULL / CLOSED / NOT_YET, or "done" (completed before)


DONE = "done"


def open_response(db, link: SurveyLink, account_id: int, openid: str, member_id: int | None,
                  now) -> SurveyResponse:
    """The person's response through this link, created on the first visit (opened)."""
    query = select(SurveyResponse).where(SurveyResponse.link_id == link.id, SurveyResponse.openid == openid)
    found = db.scalar(query)
    if found is None:
        try:
            with db.begin_nested():     # the same person opening twice at once: one row stands
                found = SurveyResponse(link_id=link.id, survey_id=link.survey_id, account_id=account_id,
                                       openid=openid, member_id=member_id, answers={}, page=0, points=0,
                                       opened_at=now)
                db.add(found)
                db.flush()
        except IntegrityError:
            found = db.scalar(query)
            if found is None:        # not the race: a link or account that is not there
                raise
    if found.member_id is None and member_id is not None:
        found.member_id = member_id
    return found


def save_page(book: Book, response: SurveyResponse, survey: Survey, page: int, form, enqueue) -> Saved:
    """Check and keep one page of answers; the last page completes (and pays) the response."""
    db, now = book.db, book.now
    # Locked for the rest of the transaction: a second submit of the same response (a retry, a
    # second tab) waits here and then sees what the first did.
    db.refresh(response, with_for_update=True)
    if response.completed_at is not None:
        return Saved(refused=DONE)
    closed = catalog.state(survey, now)
    if closed is not None:
        return Saved(refused=closed)
    pages = survey.pages
    # The page the browser answered must be the one the server would show: earlier pages may be
    # answered again (back), later ones only once the ones before are done.
    if not 0 <= page < len(pages) or page > response.page or not check.shown(pages[page], response.answers):
        return Saved(next_page=check.next_page(pages, response.answers, response.page))
    values, errors = check.check_page(pages[page], form, response.answers)
    if errors:
        return Saved(errors=errors, next_page=page)
    merged = {k: v for k, v in response.answers.items()
              if k not in {q["id"] for q in pages[page]["questions"]}}
    response.answers = check.drop_hidden(pages, {**merged, **values})
    response.started_at = response.started_at or now
    following = check.next_page(pages, response.answers, page + 1)
    response.page = len(pages) if following is None else max(response.page, following)
    db.flush()
    if following is not None:
        return Saved(next_page=following)
    refused = complete(book, response, survey, enqueue)
    return Saved(refused=refused) if refused else Saved(completed=True)


def complete(book: Book, response: SurveyResponse, survey: Survey, enqueue) -> str | None:
    """Complete the response once (None), or say why not (DONE, catalog.FULL)."""
    db, now = book.db, book.now
    with db.begin_nested() as savepoint:
        took = db.execute(update(SurveyResponse).where(SurveyResponse.id == response.id,
                                                        SurveyResponse.completed_at.is_(None))
                          .values(completed_at=now).execution_options(synchronize_session=False)).rowcount
        if not took:
            savepoint.rollback()
            db.refresh(response)
            return DONE
        counted = db.execute(update(Survey).where(Survey.id == survey.id,
                                                  (Survey.quota.is_(None)) | (Survey.completed < Survey.quota))
                             .values(completed=Survey.completed + 1)
                             .execution_options(synchronize_session=False)).rowcount
        if not counted:
            savepoint.rollback()
            return catalog.FULL
    db.refresh(response)
    db.refresh(survey)
    if response.member_id is not None:
        pay(book, response, survey, enqueue)
    return None


def pay(book: Book, response: SurveyResponse, survey: Survey, enqueue) -> int:
    """Pay a completed response's points to its member (once: the award key is the response)
    and text them what they got (workers/surveys.py, once per response)."""
    awards = fire(book, response.member_id, "survey_complete", SOURCE, response.id,
                  base_points=survey.points)
    response.points = sum(a.points for a in awards)
    book.db.flush()
    if any(a in book.decided and a.points for a in awards):
        enqueue("workers.surveys.sms_points", response.id, job_id=f"survey-sms-{response.id}",
                retry=(5, 15, 60))
    return response.points


@dataclass
class Claimed:
    member: Member | None        # None: the phone is bound to another WeChat of this account
    points: int = 0
    returning: bool = False      # the imported member of that phone, recognised


def claim(book: Book, response: SurveyResponse, survey: Survey, link: SurveyLink, phone: str,
          enqueue) -> Claimed:
    """A completed response of a non-member whose phone was just verified: they become the
    member of that phone (or are recognised as it) and are paid. A person who never followed
    gets a fan row now, credited to the link's store and guide (first touch)."""
    fan = book.db.scalar(select(Fan).where(Fan.account_id == response.account_id, Fan.openid == response.openid))
    if fan is None:
        fan = Fan(account_id=response.account_id, openid=response.openid, following=False,
                  store_id=link.store_id, staff_id=link.staff_id, attributed_at=book.now,
                  created_at=book.now)
        book.db.add(fan)
        book.db.flush()
    bound = membership.bind(book, fan, phone, enqueue)
    if bound.member is None:
        return Claimed(None)
    response.member_id = bound.member.id
    paid = pay(book, response, survey, enqueue)
    return Claimed(bound.member, paid, bound.returning)
