"""What the server checks in a page of answers, whatever the browser sent: the choices offered,
the scales, dates, required questions and skip logic (a hidden question keeps no answer)."""
from datetime import date

from bot.surveys.definition import SCALES

TEXT_LIMIT = 500
REQUIRED = "此题必答"


def visible(question: dict, answers: dict) -> bool:
    """Whether the question is shown, given the answers saved so far."""
    cond = question.get("show_if")
    if cond is None:
        return True
    answer = answers.get(cond["question"])
    if answer is None:
        return False
    if "equals" in cond:
        return answer == cond["equals"]
    if "in" in cond:
        return answer in cond["in"]
    if "includes" in cond:
        return cond["includes"] in answer
    if "at_least" in cond:
        return answer >= cond["at_least"]
    return answer <= cond["at_most"]


def shown(page: dict, answers: dict) -> list[dict]:
    return [q for q in page["questions"] if visible(q, answers)]


def next_page(pages: list[dict], answers: dict, start: int) -> int | None:
    """The first page from `start` that shows a question; None when the survey is done."""
    for index in range(start, len(pages)):
        if shown(pages[index], answers):
            return index
    return None


def check_page(page: dict, form, answers: dict) -> tuple[dict, dict]:
    """(answers of this page, errors by question id). `form` maps a question id to the list of
    values sent (a werkzeug MultiDict's getlist, or a dict of lists)."""
    values, errors = {}, {}
    for question in shown(page, answers):
        sent = [v.strip() for v in _getlist(form, question["id"]) if v and v.strip()]
        value, error = _clean(question, sent)
        if error is None and value is None and question["required"]:
            error = REQUIRED
        if error is not None:
            errors[question["id"]] = error
        elif value is not None:
            values[question["id"]] = value
    return values, errors


def _getlist(form, key: str) -> list[str]:
    if hasattr(form, "getlist"):
        return form.getlist(key)
    value = form.get(key, [])
    return value if isinstance(value, list) else [value]


def _clean(question: dict, sent: list[str]):
    """(value, None) or (None, what is wrong); (None, None) when nothing was answered."""
    kind = question["kind"]
    if not sent:
        return None, None
    if kind == "multiple":
        if any(v not in question["options"] for v in sent):
            return None, "请从给出的选项中选择"
        return [o for o in question["options"] if o in sent], None
    if len(sent) > 1:
        return None, "此题只能填一个答案"
    value = sent[0]
    if kind == "single":
        return (value, None) if value in question["options"] else (None, "请从给出的选项中选择")
    if kind in SCALES:
        low, high = SCALES[kind]
        if not value.isdigit() or not low <= int(value) <= high:
            return None, f"请选择 {low} 到 {high} 之间的分数"
        return int(value), None
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat(), None
        except ValueError:
            return None, "请填写日期，如 2026-12-01"
    if len(value) > TEXT_LIMIT:
        return None, f"请在 {TEXT_LIMIT} 字以内"
    return value, None


def drop_hidden(pages: list[dict], answers: dict) -> dict:
    """The answers of questions still shown (an earlier answer changed may hide later ones)."""
    kept: dict = {}
    for page in pages:
        for question in page["questions"]:
            if question["id"] in answers and visible(question, kept):
                kept[question["id"]] = answers[question["id"]]
    return kept
