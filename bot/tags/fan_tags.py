"""Local tags on fans: ours are the truth, WeChat's copy follows (workers/tags.py mirrors them).

`give` is how a feature tags a fan (a QR code's tags, an operator's); it never calls WeChat.
`plan_fan` decides what WeChat should carry for one fan, the same way for the per-fan job and
for `tags reconcile`.

Policy (README "Tags"; WECHAT-PLATFORM.md §4.4 tags, §4.6 conditional menus):
- Our FanTag rows are the truth. A tag is created on WeChat the first time a fan should carry it.
- Exactly one menu-role tag (粉丝/会员/员工, Fan.role_tag) per following fan, applied LAST: a
  conditional menu matches the last-applied tag (§4.6). Other role tags are taken off. Role tags
  come from Fan.role_tag only (bot/binding/roles.py), never from FanTag rows.
- 20 tags per fan (§4.4, 45059): the role tag always has a slot; tags on the fan that are not
  ours (an operator's, WeChat's 星标组) count too; WeChat carries the fan's earliest other tags
  that fit (19 when nothing else is there). Later ones stay local: on_wechat False, held_back
  "fan tag limit". First touch matters most, and an earlier tag never makes way for a later one,
  so tags do not churn. A 45059 from WeChat anyway holds that tag back the same way (no retry).
- 100 tags per account (§4.4, 45056): the FanTags whose tag cannot be created stay local with
  held_back "account tag limit"; one warning per run; the job neither fails nor retries for it,
  and the fan's role tag is still applied (it is resolved first).
- Retries: -1 (busy) and no answer raise so rq retries (WeChatError.retryable, §4.15); other
  errors are logged and the job ends (a retry would get the same answer).
- Batches of at most 50 openids per call (§4.4, 40032 past 50).
"""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Fan, FanTag
from models.tag import ROLE_TAGS

TAGS_PER_FAN = 20       # WECHAT-PLATFORM.md §4.4 (45059)
BATCH = 50              # §4.4: batchtagging / batchuntagging take at most 50 openids (40032)
FAN_LIMIT, ACCOUNT_LIMIT, NAME_REJECTED = "fan tag limit", "account tag limit", "name rejected by WeChat"


def give(db: Session, fan: Fan, names: list[str], source: str, enqueue) -> list[str]:
    """Tag the fan with `names` (those it lacks); the names added. The mirror job follows the
    commit, and it re-applies the menu-role tag last (WECHAT-PLATFORM.md §4.6). Role tag names
    are not given here: the fan's role (bot/binding/roles.py) decides its role tag."""
    have = set(db.scalars(select(FanTag.name).where(FanTag.fan_id == fan.id)))
    added = [n for n in dict.fromkeys(names) if n and n not in have and n not in ROLE_TAGS]
    for name in added:
        db.add(FanTag(fan_id=fan.id, name=name, source=source))
    if added:
        db.flush()
        enqueue("workers.tags.sync_fan_tags", fan.id, queue="high", retry=(5, 15, 60))
    return added


class HeldBack(Exception):
    """A tag that cannot be on WeChat now; str(exc) is the reason kept in FanTag.held_back."""


class Resolve(Protocol):
    """Tag name -> WeChat tag id (creating it if need be), or HeldBack; `ours`: our tag ids."""
    ours: set[int]

    def __call__(self, name: str) -> int: ...


@dataclass
class FanPlan:
    """What one fan's tags on WeChat should become, and the calls that get them there."""
    keep: list[tuple[str, int]] = field(default_factory=list)   # ours to carry, earliest first
    held: dict[str, str] = field(default_factory=dict)          # name -> why it stays local
    role: int | None = None                                      # the role tag's id
    role_error: str | None = None                                # why the role tag has no id
    remove: list[int] = field(default_factory=list)             # ours (or other role tags) to take off
    add: list[tuple[str, int]] = field(default_factory=list)    # kept, not on WeChat yet
    role_on: bool = False                                        # the role tag is on the fan now
    role_again: bool = False                                     # (re)apply it, so it is last


def plan_fan(names: list[str], role_name: str, current: list[int], resolve: Resolve) -> FanPlan:
    """The plan for a fan with local tags `names` (earliest first) who carries `current` on WeChat
    (tag ids, in the order they were applied)."""
    plan = FanPlan()
    try:
        plan.role = resolve(role_name)       # first: the role tag gets an account slot before others
    except HeldBack as exc:
        plan.role_error = str(exc)
    ours = resolve.ours
    foreign = [i for i in current if i not in ours]
    room = TAGS_PER_FAN - 1 - len(foreign)   # §4.4: 20 per fan, one kept for the role tag
    for name in names:
        if name in ROLE_TAGS:
            continue
        if len(plan.keep) >= room:
            plan.held[name] = FAN_LIMIT      # §4.4: later tags wait; earlier ones never move
            continue
        try:
            plan.keep.append((name, resolve(name)))
        except HeldBack as exc:
            plan.held[name] = str(exc)       # §4.4 45056 (account full) or a refused name
    kept, ours = {i for _, i in plan.keep}, resolve.ours
    plan.remove = [i for i in current if i in ours and i not in kept and i != plan.role]
    plan.add = [(n, i) for n, i in plan.keep if i not in current]
    plan.role_on = plan.role in current
    after = [i for i in current if i not in plan.remove] + [i for _, i in plan.add]
    # §4.6: the role tag must be the last applied; untag and tag again when it is not.
    plan.role_again = plan.role is not None and (not after or after[-1] != plan.role)
    return plan


def local_tags(db: Session, fan_ids: list[int]) -> dict[int, list[FanTag]]:
    """Each fan's FanTag rows, earliest first (the order the 20-per-fan policy keeps)."""
    out: dict[int, list[FanTag]] = defaultdict(list)
    for start in range(0, len(fan_ids), 500):
        rows = db.scalars(select(FanTag).where(FanTag.fan_id.in_(fan_ids[start:start + 500]))
                          .order_by(FanTag.created_at, FanTag.id))
        for row in rows:
            out[row.fan_id].append(row)
    return out


def mark(rows: list[FanTag], plan: FanPlan, refused: set[str] = frozenset()) -> Counter:
    """Sets FanTag.on_wechat / held_back as the plan and WeChat's refusals (45059) left them;
    the count of held-back tags by reason."""
    held = {**plan.held, **{n: FAN_LIMIT for n in refused}}
    kept = {n for n, _ in plan.keep} - set(held)
    for row in rows:
        on, why = (row.name in kept), held.get(row.name)
        if (row.on_wechat, row.held_back) != (on, why):
            row.on_wechat, row.held_back = on, why
    return Counter(held.values())
