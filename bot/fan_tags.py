"""Local tags on fans: ours are the truth, WeChat's copy follows (workers/tags.py mirrors them).

`give` is how a feature tags a fan (a QR code's tags, an operator's); it never calls WeChat.
"""
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Fan, FanTag


def give(db: Session, fan: Fan, names: list[str], source: str, enqueue) -> list[str]:
    """Tag the fan with `names` (those it lacks); the names added. The mirror job follows the
    commit, and it re-applies the menu-role tag last (WECHAT-PLATFORM.md §4.6)."""
    have = set(db.scalars(select(FanTag.name).where(FanTag.fan_id == fan.id)))
    added = [n for n in dict.fromkeys(names) if n and n not in have]
    for name in added:
        db.add(FanTag(fan_id=fan.id, name=name, source=source))
    if added:
        db.flush()
        enqueue("workers.tags.sync_fan_tags", fan.id, queue="high", retry=(5, 15, 60))
    return added
