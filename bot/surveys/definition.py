"""Reading a survey file: YAML in, checked plain data out, every problem with its line.

One survey a file, or several under `surveys:`; each is
    code, title, intro?, points?, from?, to? (China dates), stores? [store codes], quota?,
    pages: [{title?, questions: [{id, kind, title, required?, options?, show_if?}]}]
Kinds: single and multiple (with `options`), text, rating (1-5), nps (0-10), date.
`show_if` shows a question only when an earlier answer matches:
    {question: ID, equals: X} | {question: ID, in: [X, ...]} | {question: ID, includes: X}
    | {question: ID, at_least: N} | {question: ID, at_most: N}
"""
import re
from datetime import date

import yaml

from bot.points.rules_file import _Loader

KINDS = ("single", "multiple", "text", "rating", "nps", "date")
SCALES = {"rating": (1, 5), "nps": (0, 10)}
CONDITIONS = ("equals", "in", "includes", "at_least", "at_most")
SURVEY_FIELDS = {"code", "title", "intro", "points", "from", "to", "stores", "quota", "pages"}
QUESTION_FIELDS = {"id", "kind", "title", "required", "options", "show_if"}
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
QUESTION_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class SurveyFileError(Exception):
    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = sorted(problems)
        super().__init__("\n".join(f"line {n}: {m}" for n, m in self.problems))


def parse(text: str) -> list[dict]:
    """The surveys of a file as plain data, or SurveyFileError naming every bad line."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SurveyFileError([((mark.line + 1) if mark else 1, exc.problem or "not valid YAML")]) from None
    except yaml.YAMLError:
        raise SurveyFileError([(1, "not valid YAML")]) from None
    problems: list[tuple[int, str]] = []
    if isinstance(doc, dict) and set(doc) == {"surveys"} and isinstance(doc["surveys"], list):
        items = list(zip(doc["surveys"], doc["surveys"].lines))
    elif isinstance(doc, dict):
        items = [(doc, 1)]
    else:
        raise SurveyFileError([(1, "a survey file is a mapping (code, title, pages), or 'surveys:' a list of them")])
    surveys, codes = [], set()
    for item, line in items:
        survey = _survey(item, line, problems)
        if survey is not None and survey["code"] in codes:
            problems.append((line, f"survey code {survey['code']} appears twice"))
        elif survey is not None:
            codes.add(survey["code"])
            surveys.append(survey)
    if problems:
        raise SurveyFileError(problems)
    return surveys


def _survey(doc, line: int, problems: list) -> dict | None:
    if not isinstance(doc, dict):
        problems.append((line, "a survey is a mapping of fields"))
        return None
    at = lambda key: doc.lines.get(key, doc.line)  # noqa: E731
    before = len(problems)
    problems += [(at(k), f"unknown field '{k}' (allowed: {', '.join(sorted(SURVEY_FIELDS))})")
                 for k in doc if k not in SURVEY_FIELDS]
    for key in ("code", "title", "pages"):
        if doc.get(key) in (None, "", []):
            problems.append((doc.line, f"'{key}' is required"))
    if doc.get("code") is not None and not CODE.match(str(doc["code"])):
        problems.append((at("code"), "'code' is letters, digits, - and _ (up to 64)"))
    for key, low in (("points", 0), ("quota", 1)):
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            problems.append((at(key), f"'{key}' must be a whole number ≥ {low}"))
    for key in ("from", "to"):
        if doc.get(key) is not None and not isinstance(doc[key], date):
            problems.append((at(key), f"'{key}' is a China date, YYYY-MM-DD"))
    if isinstance(doc.get("from"), date) and isinstance(doc.get("to"), date) and doc["from"] > doc["to"]:
        problems.append((at("to"), "'to' is before 'from'"))
    stores = doc.get("stores")
    if stores is not None and not (isinstance(stores, list) and all(isinstance(s, (str, int)) for s in stores)):
        problems.append((at("stores"), "'stores' is a list of store codes"))
    pages = _pages(doc.get("pages"), at("pages"), problems)
    if len(problems) > before:
        return None
    return {"code": str(doc["code"]), "title": str(doc["title"]), "intro": str(doc.get("intro") or ""),
            "points": doc.get("points") or 0, "from": doc.get("from"), "to": doc.get("to"),
            "stores": [str(s) for s in stores or []], "quota": doc.get("quota"), "pages": pages,
            "line": line, "stores_line": at("stores")}


def _pages(pages, line: int, problems: list) -> list[dict]:
    if pages is None:
        return []
    if not isinstance(pages, list):
        problems.append((line, "'pages' is a list of {title, questions}"))
        return []
    seen: dict[str, dict] = {}
    out = []
    # A page is drawn on the server from the answers already saved, so `show_if` looks back to an
    # earlier page, never to a question beside it.
    before_page: dict[str, dict] = {}
    for page, page_line in zip(pages, pages.lines):
        if not isinstance(page, dict) or not isinstance(page.get("questions"), list) or not page["questions"]:
            problems.append((page_line, "a page is {title, questions: [...]} with at least one question"))
            continue
        problems += [(page.lines[k], f"a page has only 'title' and 'questions', not '{k}'")
                     for k in page if k not in ("title", "questions")]
        questions = []
        for q, q_line in zip(page["questions"], page["questions"].lines):
            checked = _question(q, q_line, seen, before_page, problems)
            if checked is not None:
                seen[checked["id"]] = checked
                questions.append(checked)
        before_page = dict(seen)
        out.append({"title": str(page.get("title") or ""), "questions": questions})
    return out


def _question(q, line: int, earlier: dict, before_page: dict, problems: list) -> dict | None:
    if not isinstance(q, dict):
        problems.append((line, "a question is a mapping: {id, kind, title, ...}"))
        return None
    at = lambda key: q.lines.get(key, line)  # noqa: E731
    before = len(problems)
    problems += [(at(k), f"unknown question field '{k}' (allowed: {', '.join(sorted(QUESTION_FIELDS))})")
                 for k in q if k not in QUESTION_FIELDS]
    qid, kind = str(q.get("id") or ""), q.get("kind")
    if not QUESTION_ID.match(qid):
        problems.append((at("id"), "a question needs an 'id': a letter, then letters, digits or _"))
    elif qid in earlier:
        problems.append((at("id"), f"question id '{qid}' appears twice"))
    if kind not in KINDS:
        problems.append((at("kind"), f"'kind' is one of {', '.join(KINDS)}"))
    if not q.get("title"):
        problems.append((line, "a question needs a 'title'"))
    if not isinstance(q.get("required", False), bool):
        problems.append((at("required"), "'required' is true or false"))
    options = q.get("options")
    if kind in ("single", "multiple"):
        if not isinstance(options, list) or len(options) < 2 or len({str(o) for o in options}) != len(options):
            problems.append((at("options") if options is not None else line,
                             f"a {kind} question needs 'options': two or more different choices"))
    elif options is not None:
        problems.append((at("options"), f"a {kind} question has no 'options'"))
    show_if = _condition(q.get("show_if"), at("show_if"), before_page, problems)
    if len(problems) > before:
        return None
    return {"id": qid, "kind": kind, "title": str(q["title"]), "required": bool(q.get("required", False)),
            "options": [str(o) for o in options or []], "show_if": show_if}


def _condition(cond, line: int, earlier: dict, problems: list) -> dict | None:
    if cond is None:
        return None
    if not isinstance(cond, dict) or len(cond) != 2 or "question" not in cond:
        problems.append((line, f"'show_if' is {{question: ID, one of {', '.join(CONDITIONS)}: ...}}"))
        return None
    (test, value), = [(k, v) for k, v in cond.items() if k != "question"]
    target = earlier.get(str(cond["question"]))
    if target is None:
        problems.append((line, f"'show_if' names '{cond['question']}', which is no question of an earlier page"))
        return None
    if test not in CONDITIONS:
        problems.append((line, f"'show_if' tests one of {', '.join(CONDITIONS)}, not '{test}'"))
        return None
    values = value if test == "in" else [value]
    if test == "in" and not isinstance(value, list):
        problems.append((line, "'in' takes a list"))
        return None
    if test in ("at_least", "at_most") and target["kind"] not in SCALES:
        problems.append((line, f"'{test}' compares a rating or nps answer"))
        return None
    if test == "includes" and target["kind"] != "multiple":
        problems.append((line, "'includes' looks into a multiple-choice answer"))
        return None
    if target["options"] and any(str(v) not in target["options"] for v in values):
        problems.append((line, f"'show_if' names a choice that '{target['id']}' does not offer"))
        return None
    low_high = SCALES.get(target["kind"])
    if low_high and any(isinstance(v, bool) or not isinstance(v, int) or not low_high[0] <= v <= low_high[1]
                        for v in values):
        problems.append((line, f"'show_if' compares with {low_high[0]}-{low_high[1]}"))
        return None
    normal = [v if low_high else str(v) for v in values]
    return {"question": target["id"], test: normal if test == "in" else normal[0]}


def questions(pages: list[dict]) -> list[dict]:
    return [q for page in pages for q in page["questions"]]
