"""Putting a checked rules file in place: all of it, in one transaction.

A rule whose conditions changed (its digest) is evaluated over every fan at the next run, which
takes the tag off fans it no longer holds for. A rule left out of the file is removed, and so
are the tags it gave (their WeChat copies follow).
"""
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.tag_rules.evaluate import mirror, source_of, tagged
from bot.tag_rules.file import digest
from models import FanTag, TagRule


def store(db: Session, rules: list[dict], enqueue) -> dict[str, list[str]]:
    """Replaces the loaded rules with `rules`; the names new, changed, unchanged and removed."""
    existing = {rule.name: rule for rule in db.scalars(select(TagRule))}
    report: dict[str, list[str]] = {"new": [], "changed": [], "unchanged": [], "removed": []}
    for spec in rules:
        rule = existing.pop(spec["name"], None)
        fingerprint = digest(spec)
        if rule is None:
            db.add(TagRule(name=spec["name"], tag=spec["tag"], every_hours=spec["every_hours"], when=spec["when"],
                           digest=fingerprint, line=spec["line"], watermark={}))
            report["new"].append(spec["name"])
            continue
        if rule.tag != spec["tag"]:         # the old tag is no longer this rule's to keep
            _untag(db, rule, enqueue)
        report["changed" if rule.digest != fingerprint else "unchanged"].append(spec["name"])
        rule.tag, rule.every_hours, rule.when = spec["tag"], spec["every_hours"], spec["when"]
        rule.digest, rule.line = fingerprint, spec["line"]
    for rule in existing.values():
        _untag(db, rule, enqueue)
        db.delete(rule)
        report["removed"].append(rule.name)
    db.flush()
    return report


def _untag(db: Session, rule: TagRule, enqueue) -> None:
    fans = sorted(tagged(db, rule.name, rule.tag))
    db.execute(delete(FanTag).where(FanTag.name == rule.tag, FanTag.source == source_of(rule.name)))
    mirror(db, fans, enqueue)
