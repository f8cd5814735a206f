"""Evaluating tag rules over the rows of behaviour, fully or incrementally.

A full run (a new or changed rule, or `--full`) evaluates every fan. An incremental run only
looks again at the fans whose answer can have changed since the last run: fans with rows newer
than the watermark (they may now reach a count), fans whose rows left a window since then (they
may now fall short), and, for rules that test tags or levels, every fan the rule tags and every
fan whose tags or level changed. Conditions only count "at least", so no other fan can change.

Tags a rule gives are FanTag rows with source "rule:NAME"; a rule never takes off a tag that came
from elsewhere (a QR code, an operator) and never gives a tag the fan already carries.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from bot.tag_rules.file import tags_tested
from bot.tag_rules.sources import BEHAVIOURS, TABLES
from models import Fan, FanTag, LevelChange, Member, TagRule

CHUNK = 1000            # fan ids per IN (...) list
IN_SQL = 100            # candidates filtered in SQL only up to this many
MIRROR_BATCH = 100      # fans per mirror job (each fan is one sync, WECHAT-PLATFORM.md §4.4)
WATERMARKS = {**TABLES, "fan_tag": FanTag, "level_change": LevelChange}


@dataclass
class Outcome:
    added: list[int]
    removed: list[int]
    fans: int            # fans carrying the rule's tag afterwards
    looked_at: int | None  # fans evaluated (None: all of them)


def source_of(rule_name: str) -> str:
    return f"rule:{rule_name}"


def _leaves(when: dict):
    if "all" in when or "any" in when:
        for part in when.get("all", when.get("any", [])):
            yield from _leaves(part)
    else:
        yield when


def _chunks(ids, size=CHUNK):
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _fan_ids(db: Session, query, column, candidates: set[int] | None) -> set[int]:
    # More than a few candidates: one pass over the events and an intersection here. The IN list
    # is tested against every joined event row, so on a million events even one list of a
    # thousand ids took minutes (bench/tags.py), where the whole pass takes seconds.
    if candidates is None or len(candidates) > IN_SQL:
        found = set(db.scalars(query))
        return found if candidates is None else found & candidates
    found: set[int] = set()
    for chunk in _chunks(candidates):
        found |= set(db.scalars(query.where(column.in_(chunk))))
    return found


def satisfying(db: Session, when: dict, now: datetime, candidates: set[int] | None = None) -> set[int]:
    """The fans (among `candidates`, or all) for whom the condition holds at `now`."""
    if "all" in when:
        result = None
        for part in when["all"]:
            result = satisfying(db, part, now, candidates if result is None else result)
            if not result:
                return set()
        return result
    if "any" in when:
        return set().union(*(satisfying(db, part, now, candidates) for part in when["any"]))
    if "tag" in when:
        return _fan_ids(db, select(FanTag.fan_id).where(FanTag.name == when["tag"]), FanTag.fan_id, candidates)
    if "level" in when:
        query = select(Fan.id).join(Member, Member.id == Fan.member_id).where(Member.level.in_(when["level"]))
        return _fan_ids(db, query, Fan.id, candidates)
    rows = BEHAVIOURS[when["did"]].rows(when).subquery()
    since = now - timedelta(hours=when["within_hours"])
    query = (select(rows.c.fan_id).where(rows.c.at > since, rows.c.at <= now).group_by(rows.c.fan_id)
             .having(func.count() >= when["at_least"]))
    return _fan_ids(db, query, rows.c.fan_id, candidates)


def watermark(db: Session) -> dict[str, int]:
    """The highest id of every table a rule reads, taken before the run reads them."""
    return {name: db.scalar(select(func.max(model.id))) or 0 for name, model in WATERMARKS.items()}


def tagged(db: Session, rule_name: str, tag: str) -> set[int]:
    return set(db.scalars(select(FanTag.fan_id).where(FanTag.name == tag, FanTag.source == source_of(rule_name))))


def changed_fans(db: Session, rule: TagRule, now: datetime, carrying: set[int]) -> set[int]:
    """The fans whose answer can differ from the last run's (see the module docstring)."""
    seen, before = rule.watermark or {}, rule.evaluated_at
    found: set[int] = set()
    for leaf in _leaves(rule.when):
        if "did" not in leaf:
            continue
        behaviour = BEHAVIOURS[leaf["did"]]
        rows = behaviour.rows(leaf).subquery()
        window = timedelta(hours=leaf["within_hours"])
        fresh = rows.c.row_id > seen.get(behaviour.table, 0)
        aged = (rows.c.at > before - window) & (rows.c.at <= now - window)   # in the window then, not now
        found |= set(db.scalars(select(rows.c.fan_id).where(fresh | aged).distinct()))
    if any("did" not in leaf for leaf in _leaves(rule.when)):
        found |= carrying
        names = tags_tested(rule.when)
        if names:
            found |= set(db.scalars(select(FanTag.fan_id).where(FanTag.id > seen.get("fan_tag", 0),
                                                                FanTag.name.in_(names))))
        found |= set(db.scalars(select(Fan.id).join(LevelChange, LevelChange.member_id == Fan.member_id)
                                .where(Fan.member_id.is_not(None), LevelChange.id > seen.get("level_change", 0))))
    return found


def run_rule(db: Session, rule: TagRule, now: datetime, enqueue, full: bool = False) -> Outcome:
    """Evaluates one rule and applies it: gives the tag where it holds, takes it off where it no
    longer does, and queues the mirror to WeChat for the fans that changed. Safe to run twice."""
    full = full or rule.evaluated_digest != rule.digest or rule.evaluated_at is None
    mark = watermark(db)
    carrying = tagged(db, rule.name, rule.tag)
    candidates = None if full else changed_fans(db, rule, now, carrying)
    holds = satisfying(db, rule.when, now, candidates) if candidates is None or candidates else set()
    others = set(db.scalars(select(FanTag.fan_id).where(FanTag.name == rule.tag,
                                                        FanTag.source != source_of(rule.name))))
    add = sorted(holds - carrying - others)
    remove = sorted((carrying if candidates is None else carrying & candidates) - holds)
    if add:
        db.execute(insert(FanTag), [dict(fan_id=f, name=rule.tag, source=source_of(rule.name), on_wechat=False,
                                         created_at=now) for f in add])
    for chunk in _chunks(remove):
        db.execute(delete(FanTag).where(FanTag.fan_id.in_(chunk), FanTag.name == rule.tag,
                                        FanTag.source == source_of(rule.name)))
    mirror(db, add + remove, enqueue)
    rule.watermark, rule.evaluated_at, rule.evaluated_digest = mark, now, rule.digest
    rule.fans = len(carrying) + len(add) - len(remove)
    return Outcome(add, remove, rule.fans, None if candidates is None else len(candidates))


def mirror(db: Session, fan_ids: list[int], enqueue) -> None:
    """Queues the WeChat mirror (workers/tags.py's per-fan sync, which keeps the 20-per-fan and
    100-per-account policy of bot/tags/fan_tags.py) for the following fans among `fan_ids`."""
    following: list[int] = []
    for chunk in _chunks(fan_ids):
        following += db.scalars(select(Fan.id).where(Fan.id.in_(chunk), Fan.following))
    for batch in _chunks(following, MIRROR_BATCH):
        enqueue("workers.tag_rules.mirror_fans", batch, queue="low", retry=(5, 15, 60))


def due(rule: TagRule, now: datetime) -> bool:
    return (rule.evaluated_digest != rule.digest or rule.evaluated_at is None
            or now - rule.evaluated_at >= timedelta(hours=rule.every_hours))
