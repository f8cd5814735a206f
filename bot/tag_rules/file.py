"""Reading a tag rules file: YAML in, checked plain data out, every error with its line.

    rules:
      - name: lottery-fans            # lower-case id, unique in the file
        tag: 抽奖爱好者                 # the fan tag it gives (≤30 characters, WECHAT-PLATFORM.md §4.4)
        every: 7d                     # how often it is computed: Nd or Nh
        when:                         # a condition:
          any:                        #   any: [...] / all: [...]
            - {did: click, key: LOTTERY, within: 30d, at_least: 3}
            - {did: keyword, text: 抽奖, within: 30d, at_least: 3}
    # other conditions: {tag: NAME} (the fan carries that tag), {level: CODE or [CODES]}

A rule may not test a tag that a rule of the file gives (a loop, or an order the run would
depend on), and two rules may not give the same tag.
"""
import hashlib
import json
import re
from pathlib import Path

from bot.points.rules_file import RulesError, load_document   # the line-remembering loader points uses
from bot.tag_rules.sources import BEHAVIOURS, UNAVAILABLE
from models.tag import ROLE_TAGS

EXAMPLE_PATH = Path(__file__).with_name("rules.example.yaml")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SPAN = re.compile(r"^(\d+)([dh])$")
TAG_CHARS = 30          # WECHAT-PLATFORM.md §4.4: a tag name is at most 30 characters
LEAF_FIELDS = {"did", "within", "at_least", "key", "code", "channel", "text"}
MAX_DEPTH = 5

__all__ = ["RulesError", "parse", "digest"]


def parse(text: str) -> list[dict]:
    """The file's rules as plain data, or RulesError listing every problem with its line."""
    doc = load_document(text)
    check = _Checker()
    rules = check.document(doc)
    if check.errors:
        raise RulesError(check.errors)
    return rules


def digest(rule: dict) -> str:
    """Changes when what the rule computes changes (not its line or how often it runs)."""
    body = json.dumps({"tag": rule["tag"], "when": rule["when"]}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def hours(span: str) -> int:
    number, unit = SPAN.match(span).groups()
    return int(number) * (24 if unit == "d" else 1)


def tags_tested(when: dict) -> list[str]:
    if "tag" in when:
        return [when["tag"]]
    return [name for part in when.get("all", when.get("any", [])) for name in tags_tested(part)]


class _Checker:
    def __init__(self):
        self.errors: list[tuple[int, str]] = []

    def fail(self, line: int, msg: str) -> None:
        self.errors.append((line, msg))

    def document(self, doc) -> list[dict]:
        if not isinstance(doc, dict) or set(doc) - {"rules"}:
            self.fail(1, "the file must be a mapping with one key, rules: [...]")
            return []
        rules = doc.get("rules")
        if not isinstance(rules, list) or not rules:
            self.fail(doc.lines.get("rules", 1), "rules must be a non-empty list")
            return []
        out, names, tags = [], {}, {}
        for value, line in zip(rules, rules.lines):
            rule = self.rule(value, line)
            if rule is None:
                continue
            if rule["name"] in names:
                self.fail(line, f"rule name {rule['name']!r} is used twice (first on line {names[rule['name']]})")
            if rule["tag"] in tags:
                self.fail(line, f"tag {rule['tag']!r} is given by two rules (first on line {tags[rule['tag']]})")
            names.setdefault(rule["name"], line)
            tags.setdefault(rule["tag"], line)
            out.append(rule)
        for rule in out:
            for name in tags_tested(rule["when"]):
                if name in tags:    # the same run sets it: refused, so a run never chases itself
                    self.fail(rule["line"], f"rule {rule['name']}: tests tag {name!r}, which the rule on "
                                            f"line {tags[name]} gives; a rule may only test tags set elsewhere")
        return out

    def rule(self, value, line: int) -> dict | None:
        if not isinstance(value, dict):
            self.fail(line, "a rule must be a mapping with name, tag, every, when")
            return None
        for key in set(value) - {"name", "tag", "every", "when"}:
            self.fail(value.lines[key], f"unknown field {key!r} (allowed: every, name, tag, when)")
        name, tag, every = value.get("name"), value.get("tag"), value.get("every")
        ok = True
        if not isinstance(name, str) or not NAME.match(name):
            self.fail(line, f"name {name!r} must be lower-case letters, digits, - or _")
            ok = False
        if not isinstance(tag, str) or not tag.strip() or len(tag) > TAG_CHARS or tag in ROLE_TAGS:
            self.fail(value.lines.get("tag", line), f"tag {tag!r} must be a name of 1 to {TAG_CHARS} characters, "
                                                    f"not a menu-role tag ({'/'.join(ROLE_TAGS)})")
            ok = False
        if not isinstance(every, str) or not SPAN.match(every) or hours(every) == 0:
            self.fail(value.lines.get("every", line), f"every {every!r} must be like 1d or 12h")
            ok = False
        if "when" not in value:
            self.fail(line, "a rule needs a when: condition")
            return None
        when = self.condition(value["when"], value.lines["when"], 0)
        if not ok or when is None:
            return None
        return {"name": name, "tag": tag.strip(), "every_hours": hours(every), "when": when, "line": line}

    def condition(self, value, line: int, depth: int) -> dict | None:
        if not isinstance(value, dict) or not value:
            self.fail(line, "a condition must be a mapping: did/tag/level, or all/any of conditions")
            return None
        line = getattr(value, "line", line)
        if "all" in value or "any" in value:
            return self.combination(value, line, depth)
        if "tag" in value:
            return self.simple(value, line, "tag")
        if "level" in value:
            return self.simple(value, line, "level")
        if "did" in value:
            return self.behaviour(value, line)
        self.fail(line, f"a condition needs did, tag, level, all or any (found {', '.join(map(str, value))})")
        return None

    def combination(self, value, line: int, depth: int) -> dict | None:
        op = "all" if "all" in value else "any"
        if len(value) != 1:
            self.fail(line, f"{op}: stands alone in its mapping (put other conditions inside the list)")
            return None
        parts = value[op]
        if not isinstance(parts, list) or not parts:
            self.fail(line, f"{op} must be a non-empty list of conditions")
            return None
        if depth >= MAX_DEPTH:
            self.fail(line, f"conditions nest at most {MAX_DEPTH} deep")
            return None
        checked = [self.condition(part, at, depth + 1) for part, at in zip(parts, parts.lines)]
        return None if None in checked else {op: checked}

    def simple(self, value, line: int, field: str) -> dict | None:
        if len(value) != 1:
            self.fail(line, f"a {field} condition has only the {field} field")
            return None
        wanted = value[field]
        if field == "level":
            codes = [wanted] if isinstance(wanted, str) else wanted
            if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
                self.fail(line, "level must be a level code or a list of codes (the points rules' levels)")
                return None
            return {"level": sorted(codes)}
        if not isinstance(wanted, str) or not wanted.strip():
            self.fail(line, "tag must be a tag name")
            return None
        return {"tag": wanted.strip()}

    def behaviour(self, value, line: int) -> dict | None:
        did = value.get("did")
        for key in set(value) - LEAF_FIELDS:
            self.fail(value.lines[key], f"unknown field {key!r} in a did condition")
        if did in UNAVAILABLE:
            self.fail(line, f"did: {did}: {UNAVAILABLE[did]}")
            return None
        if did not in BEHAVIOURS:
            self.fail(line, f"did {did!r} is not a behaviour we count (one of: {', '.join(sorted(BEHAVIOURS))})")
            return None
        allowed = BEHAVIOURS[did].filters
        bad = [key for key in ("key", "code", "channel", "text") if key in value and key not in allowed]
        for key in bad:
            self.fail(value.lines[key], f"did: {did} takes no {key} (it takes: {', '.join(allowed) or 'nothing'})")
        within, at_least = value.get("within"), value.get("at_least", 1)
        if not isinstance(within, str) or not SPAN.match(within) or hours(within) == 0:
            self.fail(value.lines.get("within", line), f"within {within!r} must be like 30d or 12h")
            return None
        if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
            self.fail(value.lines.get("at_least", line), f"at_least must be a whole number ≥ 1, not {at_least!r}")
            return None
        if bad:
            return None
        leaf = {"did": did, "within_hours": hours(within), "at_least": at_least}
        for key in allowed:
            if key in value:
                if not isinstance(value[key], (str, int)) or isinstance(value[key], bool) or str(value[key]) == "":
                    self.fail(value.lines[key], f"{key} must be a non-empty text")
                    return None
                leaf[key] = str(value[key])
        return leaf
