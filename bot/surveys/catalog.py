"""Surveys in the database: loading a checked file (all or nothing), and which surveys are open.

Reloading a survey by its code keeps its links and responses; `completed` is what responses
did, never what the file says.
"""
from datetime import datetime

from sqlalchemy import select

from bot.clock import CST
from bot.points.policy import rules_for
from bot.surveys.definition import SurveyFileError
from models import Staff, Store, Survey

CLOSED = "closed"
FULL = "full"
NOT_YET = "not_yet"


def check_against_database(db, surveys: list[dict]) -> list[str]:
    """Problems only the database can see (raises SurveyFileError); warnings to print."""
    known = set(db.scalars(select(Store.code)))
    problems = [(s["stores_line"], f"store '{code}' is not a store (stores import)")
                for s in surveys for code in s["stores"] if code not in known]
    if problems:
        raise SurveyFileError(problems)
    if any(s["points"] for s in surveys) and not rules_for(db, "survey_complete"):
        return ["warning: no survey_complete rule is in force, so completing pays no points "
                "until a rules file with one is loaded (points load)"]
    return []


def load(db, surveys: list[dict], now: datetime) -> dict[str, int]:
    """Write checked surveys in the caller's transaction; how many, how many new."""
    added = 0
    for s in surveys:
        row = db.scalar(select(Survey).where(Survey.code == s["code"]))
        if row is None:
            row, added = Survey(code=s["code"], completed=0), added + 1
        row.title, row.intro, row.pages, row.points = s["title"], s["intro"], s["pages"], s["points"]
        row.starts_on, row.ends_on, row.stores, row.quota = s["from"], s["to"], s["stores"], s["quota"]
        row.updated_at = now
        db.add(row)
    db.flush()
    return {"surveys": len(surveys), "new": added}


def state(survey: Survey, now: datetime) -> str | None:
    """Why the survey takes no answers now (NOT_YET, CLOSED, FULL), or None when it is open."""
    today = now.astimezone(CST).date()
    if survey.starts_on and today < survey.starts_on:
        return NOT_YET
    if survey.ends_on and today > survey.ends_on:
        return CLOSED
    if survey.quota is not None and survey.completed >= survey.quota:
        return FULL
    return None


def open_for(db, staff: Staff, now: datetime) -> list[Survey]:
    """The surveys a guide may send now: open, and for the guide's store (or every store)."""
    store = db.get(Store, staff.store_id)
    rows = db.scalars(select(Survey).order_by(Survey.code))
    return [s for s in rows if state(s, now) is None and (not s.stores or store.code in s.stores)]
