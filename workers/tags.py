"""Making WeChat's tags agree with ours: one fan (`sync_fan_tags`) or a whole account (`reconcile`).

The policy (20 per fan, 100 per account, role tag last, retries) is in bot/tags/fan_tags.py, which
also decides each fan's plan; here are the calls that carry it out (WECHAT-PLATFORM.md §4.4, §4.6).
`reconcile` reads every following fan's tags with getidlist (one call per fan: it gives the order
the tags were applied in, which "role tag last" needs) and writes in batches of 50.
"""
import itertools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.capabilities import Cap, for_account
from bot.tags.fan_tags import ACCOUNT_LIMIT, BATCH, FanPlan, HeldBack, NAME_REJECTED, local_tags, mark, plan_fan
from bot.wechat import WeChatError
from models import Account, Fan, WechatTag
from models.tag import ROLE_TAGS
from workers.runtime import job_scope

log = logging.getLogger(__name__)

TAG_EXISTS = 45157      # tags/create: the name is taken (we lost track of its id), or empty (§4.4)
NAME_TOO_LONG = 45158   # tags/create: over 30 bytes (§4.4)
ACCOUNT_FULL = 45056    # tags/create: the account has its 100 tags (§4.4)
FAN_FULL = 45059        # batchtagging: a fan carries 20 tags (§4.4)
NO_SUCH_TAG = 45159     # a tag id that is gone (deleted in WeChat's backend)
SYSTEM_TAG_IDS = frozenset({0, 1, 2})   # 未分组 / 黑名单 / 星标组: WeChat's own (§4.4, 45058)
# §4.6: a conditional menu matches a tag id; a role tag made again has a new id.
MENUS_AGAIN = "; its conditional menu matched the old id: run `flask --app wsgi menus push`"


def tag_id(job, client, account: Account, name: str) -> int:
    """WeChat's id of our tag `name` on this account, created on first use."""
    row = job.db.scalar(select(WechatTag).where(WechatTag.account_id == account.id, WechatTag.name == name))
    if row is not None:
        return row.wx_id
    try:
        wx_id = client.tag.create(name)["id"]          # wechatpy hands back the "tag" object
    except WeChatError as exc:
        if exc.errcode != TAG_EXISTS:
            raise
        wx_id = next((t["id"] for t in client.tag.get() if t["name"] == name), None)
        if wx_id is None:       # 45157 for a name nobody has: the name itself is refused
            raise
    job.db.add(WechatTag(account_id=account.id, name=name, wx_id=wx_id))
    job.db.flush()
    return wx_id


class Resolver:
    """Tag names to ids for one run, creating tags on demand (a dry run gets stand-in ids and
    creates nothing). Once WeChat says the account is full, no more creates in this run."""

    def __init__(self, job, client, account: Account, create: bool = True):
        self.job, self.client, self.account, self.create = job, client, account, create
        rows = job.db.scalars(select(WechatTag).where(WechatTag.account_id == account.id))
        self.known = {row.name: row.wx_id for row in rows}
        self.full, self.stand_ins = False, itertools.count(-1, -1)

    @property
    def ours(self) -> set[int]:
        return set(self.known.values())

    def __call__(self, name: str) -> int:
        if name in self.known:
            return self.known[name]
        if self.full:
            raise HeldBack(ACCOUNT_LIMIT)
        if not self.create:
            self.known[name] = next(self.stand_ins)      # dry run: a tag that would be created
            return self.known[name]
        try:
            self.known[name] = tag_id(self.job, self.client, self.account, name)
        except WeChatError as exc:
            if exc.errcode == ACCOUNT_FULL:             # §4.4: 100 tags per account, warned once a run
                self.full = True
                log.warning("account %s has WeChat's 100 tags (45056): new tags stay local", self.account.slug)
                raise HeldBack(ACCOUNT_LIMIT) from None
            if exc.errcode in (TAG_EXISTS, NAME_TOO_LONG):   # §4.4: empty or over 30 bytes
                log.warning("account %s: WeChat refused the tag name %r: %s", self.account.slug, name, exc)
                raise HeldBack(NAME_REJECTED) from None
            raise
        return self.known[name]


def tag_many(client, wx_id: int, openids: list[str], untag: bool = False) -> list[str]:
    """Tags (untags) many fans with one tag, 50 per call (§4.4, 40032 past 50). Returns the
    openids WeChat refused because they carry 20 tags (45059): a refused batch is tried again
    one openid at a time, since a batch may be applied all or nothing."""
    call = client.tag.untag_user if untag else client.tag.tag_user
    openids, refused = list(dict.fromkeys(openids)), []
    for start in range(0, len(openids), BATCH):
        chunk = openids[start:start + BATCH]
        try:
            call(wx_id, chunk)
        except WeChatError as exc:
            if untag or exc.errcode != FAN_FULL:
                raise
            refused += chunk if len(chunk) == 1 else _one_by_one(call, wx_id, chunk)
    return refused


def _one_by_one(call, wx_id: int, openids: list[str]) -> list[str]:
    refused = []
    for openid in openids:
        try:
            call(wx_id, [openid])
        except WeChatError as exc:
            if exc.errcode != FAN_FULL:
                raise
            refused.append(openid)
    return refused


def make_way_for_role(client, openid: str, plan: FanPlan, refused: set[str]) -> None:
    """WeChat refused the role tag (45059): the role tag always has a slot (§4.4), so the
    latest of our tags on the fan makes way for it (and is held back)."""
    carried = [(name, wx_id) for name, wx_id in plan.keep if name not in refused]
    if not carried:
        log.warning("role tag not applied: %s carries 20 tags that are not ours", openid)
        return
    name, wx_id = carried[-1]
    client.tag.untag_user(wx_id, [openid])
    refused.add(name)
    client.tag.tag_user(plan.role, [openid])


def _apply(client, openid: str, plan: FanPlan) -> set[str]:
    """One fan's calls: removals, then our tags, then the role tag last (§4.6). Returns the
    names WeChat refused with 45059 (held back, not retried)."""
    for wx_id in plan.remove:
        client.tag.untag_user(wx_id, [openid])
    if plan.role_again and plan.role_on:
        client.tag.untag_user(plan.role, [openid])      # untag first: a re-tag does not move it last
    refused = {name for name, wx_id in plan.add if tag_many(client, wx_id, [openid])}
    if plan.role_again and tag_many(client, plan.role, [openid]):
        make_way_for_role(client, openid, plan, refused)
    return refused


def sync_fan_tags(fan_id: int) -> None:
    """Makes WeChat's tags on one fan agree with ours, role tag last. Reads everything when it
    runs, so it is safe twice or out of order. A tag deleted in WeChat's backend is recreated."""
    with job_scope() as job:
        fan = job.db.get(Fan, fan_id)
        account = job.db.get(Account, fan.account_id) if fan else None
        if fan is None or not fan.following or not for_account(account).allows(Cap.USER_INFO):
            return      # gone, or an account without the tags API (§5.1)
        client = job.client(account)
        rows = local_tags(job.db, [fan.id])[fan.id]
        for attempt in (1, 2):
            try:
                plan = plan_fan([r.name for r in rows], fan.role_tag, client.tag.get_user_tag(fan.openid),
                                Resolver(job, client, account))
                refused = _apply(client, fan.openid, plan)
                if plan.role_error:
                    log.warning("role tag %s not applied to fan %s: %s", fan.role_tag, fan.id, plan.role_error)
            except WeChatError as exc:
                if exc.errcode == NO_SUCH_TAG and attempt == 1:
                    forget_deleted(job, client, account)      # then plan again, recreating it
                    continue
                if exc.retryable:
                    raise           # -1 busy or no answer: rq retries with backoff (§4.15)
                log.warning("tags of fan %s on %s not synced: %s", fan.id, account.slug, exc)
                return
            held = mark(rows, plan, refused)
            log.info("tags synced account=%s fan=%s role=%s held=%s", account.slug, fan.id, fan.role_tag,
                     dict(held))
            return


def forget_deleted(job, client, account: Account) -> None:
    """Drops our records of tags deleted in WeChat's backend, so they are created again."""
    live = {t["id"] for t in client.tag.get()}
    for row in job.db.scalars(select(WechatTag).where(WechatTag.account_id == account.id)):
        if row.wx_id not in live:
            log.warning("tag %s (id %s) is gone from WeChat; it will be created again%s", row.name, row.wx_id,
                        MENUS_AGAIN if row.name in ROLE_TAGS else "")
            job.db.delete(row)
    job.db.flush()


def apply_role_tag(fan_id: int) -> None:
    """The old job name, for jobs queued before the deploy: the full sync applies the role tag."""
    sync_fan_tags(fan_id)


@dataclass
class Report:
    """What `tags reconcile` found and did: per tag name [added, removed, re-applied last]."""
    changes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    held: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)    # (openid, WeChat's answer)
    fans: int = 0

    @property
    def total(self) -> int:
        return sum(sum(c) for c in self.changes.values())


def reconcile(account_id: int, dry_run: bool = False) -> Report:
    """Repairs an account's tags on WeChat so they agree with ours (`flask tags reconcile`)."""
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        client, report = job.client(account), Report()
        resolve = Resolver(job, client, account, create=not dry_run)
        repair_tags(job, client, resolve, report, dry_run)
        fans = job.db.scalars(select(Fan).where(Fan.account_id == account.id, Fan.following).order_by(Fan.id)).all()
        rows, plans = local_tags(job.db, [f.id for f in fans]), {}
        for fan in fans:
            try:
                current = client.tag.get_user_tag(fan.openid)
            except WeChatError as exc:
                if exc.retryable:
                    raise
                report.skipped.append((fan.openid, f"{exc.errcode} {exc.errmsg}"))
                continue
            plans[fan] = plan = plan_fan([r.name for r in rows[fan.id]], fan.role_tag, current, resolve)
            if plan.role_error:
                report.held[f"role tag {fan.role_tag} ({plan.role_error})"] += 1
        refused = repair_fans(client, plans, {i: n for n, i in resolve.known.items()}, report, dry_run)
        for fan, plan in plans.items():
            report.held += (Counter(plan.held.values()) if dry_run
                            else mark(rows[fan.id], plan, refused.get(fan.openid, set())))
        report.fans = len(plans)
        return report


def repair_tags(job, client, resolve: Resolver, report: Report, dry_run: bool) -> None:
    """Our tags against tags/get: relinks or recreates ours deleted in the backend (§4.4: a
    delete also untags its fans), reports renamed ones and tags that are not ours."""
    live = {t["id"]: t["name"] for t in client.tag.get() if t["id"] not in SYSTEM_TAG_IDS}
    by_name = {name: i for i, name in live.items()}
    would = "would be " if dry_run else ""
    for row in job.db.scalars(select(WechatTag).where(WechatTag.account_id == resolve.account.id)).all():
        if row.wx_id in live:
            if live[row.wx_id] != row.name:
                report.notes.append(f"tag {row.name} (id {row.wx_id}) is named {live[row.wx_id]} on WeChat; kept by id")
            continue
        if row.name in by_name:         # deleted, and made again by hand under the same name
            report.notes.append(f"tag {row.name} {would}relinked: id {row.wx_id} -> {by_name[row.name]}")
            resolve.known[row.name] = by_name[row.name]
            if not dry_run:
                row.wx_id = by_name[row.name]
            continue
        del resolve.known[row.name]
        if not dry_run:
            job.db.delete(row)
            job.db.flush()
        try:
            new = resolve(row.name)
            report.notes.append(f"tag {row.name} was deleted on WeChat: {would}created again (id {row.wx_id} -> "
                                f"{new if new > 0 else 'new'})" + (MENUS_AGAIN if row.name in ROLE_TAGS else ""))
        except HeldBack as exc:
            report.notes.append(f"tag {row.name} was deleted on WeChat and cannot be created again: {exc}")
    for wx_id, name in live.items():
        if wx_id not in resolve.ours:
            report.notes.append(f"tag {name} (id {wx_id}) on WeChat is not ours: left alone (counts against its fans' 20)")


def repair_fans(client, plans: dict, names: dict[int, str], report: Report, dry_run: bool) -> dict[str, set[str]]:
    """Every fan's plan in batches of 50 (§4.4): removals, our tags, then role tags last (§4.6).
    Returns, per openid, the tag names WeChat refused (45059)."""
    remove, role_off, add, role_on = (defaultdict(list) for _ in range(4))
    for fan, plan in plans.items():
        for wx_id in plan.remove:
            remove[wx_id].append(fan.openid)
            report.changes[names[wx_id]][1] += 1
        for name, wx_id in plan.add:
            add[wx_id].append(fan.openid)
            report.changes[name][0] += 1
        if plan.role_again:
            role_on[plan.role].append(fan.openid)
            if plan.role_on:
                role_off[plan.role].append(fan.openid)
            report.changes[names[plan.role]][2 if plan.role_on else 0] += 1
    refused: dict[str, set[str]] = defaultdict(set)
    if dry_run:
        return refused
    for wx_id, openids in [*remove.items(), *role_off.items()]:
        tag_many(client, wx_id, openids, untag=True)
    for wx_id, openids in add.items():
        for openid in tag_many(client, wx_id, openids):
            refused[openid].add(names[wx_id])
    by_openid = {fan.openid: plan for fan, plan in plans.items()}
    for wx_id, openids in role_on.items():
        for openid in tag_many(client, wx_id, openids):
            make_way_for_role(client, openid, by_openid[openid], refused[openid])
    return refused
