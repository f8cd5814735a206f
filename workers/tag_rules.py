"""The tag rules' scheduled job and the mirror it queues (bot/tag_rules/evaluate.py decides).

`evaluate_due` runs hourly from cron (workers/schedule.py); each rule runs when its `every` has
passed, or at once when it is new or changed. One transaction per rule, with the rule's row
locked (skipped if another run holds it), so two runs never apply one rule at once, and a run
that fails leaves that rule's watermark where it was: the next run does its work again.
"""
import logging

from sqlalchemy import select

from bot.tag_rules.evaluate import Outcome, due, run_rule
from models import TagRule
from workers.runtime import job_scope
from workers.tags import sync_fan_tags

log = logging.getLogger(__name__)


def evaluate_due(only: list[str] | None = None, full: bool = False, force: bool = False) -> dict[str, Outcome]:
    """Evaluates the rules that are due (or `only` these; `force`: due or not). Safe twice."""
    with job_scope() as job:
        names = list(job.db.scalars(select(TagRule.name).order_by(TagRule.line)))
    outcomes: dict[str, Outcome] = {}
    for name in names:
        if only and name not in only:
            continue
        with job_scope() as job:
            rule = job.db.scalar(select(TagRule).where(TagRule.name == name)
                                 .with_for_update(skip_locked=True))
            if rule is None or not (force or full or due(rule, job.now)):
                continue
            outcome = run_rule(job.db, rule, job.now, job.enqueue, full=full)
            outcomes[name] = outcome
            log.info("tag rule %s (%s): +%d -%d, %d fans, looked at %s", name, rule.tag, len(outcome.added),
                     len(outcome.removed), outcome.fans, "all" if outcome.looked_at is None else outcome.looked_at)
    return outcomes


def mirror_fans(fan_ids: list[int]) -> None:
    """WeChat's copy of these fans' tags follows ours (the per-fan sync; safe twice)."""
    for fan_id in fan_ids:
        sync_fan_tags(fan_id)
