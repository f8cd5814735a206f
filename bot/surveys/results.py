"""What came back: per link (opened, started, completed, last completion), per question
(counts, averages, a bar per option), the completion list and the CSV, within a scope.

A scope is who asks: a guide sees their own links, a store manager their store's, HQ (the CLI,
or a manager of a store of the company coded HQ) everything. Responses credit the guide and
store of their link. An operator's reach (`surveys results --as`) is bot/scope.py's rule on top.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from bot import scope as scopes
from bot.clock import CST
from bot.phones import mask_phone
from bot.surveys.definition import SCALES, questions
from models import Member, Staff, Store, Survey, SurveyLink, SurveyResponse


@dataclass(frozen=True)
class Scope:
    staff_id: int | None = None       # only this guide's links
    store_id: int | None = None       # only this store's links
    group: str | None = None          # only this tour group
    reach: scopes.Scope = scopes.SERVER    # only the links of this operator's stores

    def where(self, query):
        query = query.where(self.reach.where(SurveyLink))
        if self.staff_id is not None:
            query = query.where(SurveyLink.staff_id == self.staff_id)
        if self.store_id is not None:
            query = query.where(SurveyLink.store_id == self.store_id)
        if self.group is not None:
            query = query.where(SurveyLink.group_code == self.group)
        return query


EVERYTHING = Scope()


@dataclass
class LinkStats:
    link_id: int
    survey_code: str
    survey_title: str
    guide: str
    store: str
    group: str
    opened: int
    started: int
    completed: int
    last_completed: datetime | None


def link_stats(db, scope: Scope, survey: Survey | None = None) -> list[LinkStats]:
    """One row per link in scope (of one survey, or all), newest link first."""
    query = (select(SurveyLink.id, Survey.code, Survey.title, Staff.name, Store.name, SurveyLink.group_code,
                    func.count(SurveyResponse.id),
                    func.count(SurveyResponse.started_at),
                    func.count(SurveyResponse.completed_at),
                    func.max(SurveyResponse.completed_at))
             .join(Survey, Survey.id == SurveyLink.survey_id)
             .join(Staff, Staff.id == SurveyLink.staff_id)
             .join(Store, Store.id == SurveyLink.store_id)
             .outerjoin(SurveyResponse, SurveyResponse.link_id == SurveyLink.id)
             .group_by(SurveyLink.id, Survey.code, Survey.title, Staff.name, Store.name, SurveyLink.group_code)
             .order_by(SurveyLink.id.desc()))
    if survey is not None:
        query = query.where(SurveyLink.survey_id == survey.id)
    rows = db.execute(scope.where(query)).all()
    return [LinkStats(*row[:9], _utc(row[9])) for row in rows]


def _utc(value):
    # max() of a UTC column loses the column's type: naive (or a string) on SQLite.
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def completed_responses(db, survey: Survey, scope: Scope) -> list[tuple]:
    """(response, link, guide name, store name, member or None) of each completion, in order."""
    query = (select(SurveyResponse, SurveyLink, Staff.name, Store.name, Member)
             .join(SurveyLink, SurveyLink.id == SurveyResponse.link_id)
             .join(Staff, Staff.id == SurveyLink.staff_id)
             .join(Store, Store.id == SurveyLink.store_id)
             .outerjoin(Member, Member.id == SurveyResponse.member_id)
             .where(SurveyResponse.survey_id == survey.id, SurveyResponse.completed_at.is_not(None))
             .order_by(SurveyResponse.completed_at, SurveyResponse.id))
    return list(db.execute(scope.where(query)).all())


def aggregates(survey: Survey, answers: list[dict]) -> list[dict]:
    """Per question: how many answered, and counts per option (with a bar width in percent) or
    the average, or the texts."""
    out = []
    for q in questions(survey.pages):
        given = [a[q["id"]] for a in answers if q["id"] in a]
        item = {"id": q["id"], "title": q["title"], "kind": q["kind"], "answered": len(given)}
        if q["kind"] in ("single", "multiple"):
            counts = {o: 0 for o in q["options"]}
            for value in given:
                for choice in (value if isinstance(value, list) else [value]):
                    counts[choice] = counts.get(choice, 0) + 1
            item["options"] = [{"label": o, "count": n, "bar": round(100 * n / len(given)) if given else 0}
                               for o, n in counts.items()]
        elif q["kind"] in SCALES:
            low, high = SCALES[q["kind"]]
            item["average"] = round(sum(given) / len(given), 2) if given else None
            counts = {n: 0 for n in range(low, high + 1)}
            for value in given:
                counts[value] += 1
            item["options"] = [{"label": str(n), "count": c, "bar": round(100 * c / len(given)) if given else 0}
                               for n, c in counts.items()]
        else:
            item["texts"] = [str(v) for v in given][-50:]
        out.append(item)
    return out


def completion_list(rows: list[tuple]) -> list[dict]:
    """The completions as shown to staff: names and phones masked (STYLE: never whole in chat or pages)."""
    return [{"when": response.completed_at.astimezone(CST).strftime("%m-%d %H:%M"),
             "name": _mask_name(member.name if member else None),
             "phone": mask_phone(member.phone) if member else "未登记",
             "group": link.group_code or "-", "guide": guide, "points": response.points}
            for response, link, guide, _store, member in rows]


def _mask_name(name: str | None) -> str:
    if not name:
        return "-"
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def csv_rows(survey: Survey, rows: list[tuple], phone=mask_phone) -> list[list]:
    """The header and one row per completion, every answer in its own column ("q." + its id);
    `phone` shows the member's phone (masked unless the reader may see it whole)."""
    qs = questions(survey.pages)
    header = ["response", "completed_at", "guide", "store", "group", "member_phone", "points"] + [f"q.{q['id']}" for q in qs]
    body = []
    for response, link, guide, store, member in rows:
        cells = [response.id, response.completed_at.astimezone(CST).isoformat(timespec="seconds"), guide, store,
                 link.group_code, phone(member.phone) if member else "", response.points]
        for q in qs:
            value = response.answers.get(q["id"], "")
            cells.append("|".join(value) if isinstance(value, list) else value)
        body.append(cells)
    return [header] + body

