"""Lifecycle stages (bot/points/stages.py) over a generated year of members: the nightly job
puts each member where a direct SQL query over orders, pushes and joining dates says they are
(seed 003's 新顾客…沉睡顾客 from rules.example.yaml, and a set built on activity and joining),
keeps every stay with when it was entered and left, changes nothing when run twice, and the
agent's 资料 shows the stage. Days are whole China days, today included."""
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text

import workers.points
from bot import points
from bot.clock import CST
from bot.points.policy import load
from bot.points.rules_file import parse
from bot.points.stages import cutoff, in_stage, members_in
from models import Event, Fan, Member, MemberStage, Purchase
from models.base import UTCDateTime

EXAMPLE = (Path(__file__).parents[1] / "bot/points/rules.example.yaml").read_text()
ACTIVITY = """
stages:
  - {code: fresh, name: 新会员, joined_within_days: 30, purchases_max: 0}
  - {code: browsing, name: 活跃未购, purchases_max: 0, active_within_days: 60}
  - {code: idle, name: 久未互动, inactive_for_days: 180}
"""
# The stage each member should be in, written straight in SQL (first stage that holds wins).
FACTS = """
WITH o AS (SELECT member_id, COUNT(*) AS n, MAX(paid_at) AS last FROM purchase
           WHERE refunded_fen < amount_fen GROUP BY member_id),
     e AS (SELECT f.member_id, MAX(ev.sent_at) AS at FROM fan f
           JOIN event ev ON ev.account_id = f.account_id AND ev.openid = f.openid
           WHERE f.member_id IS NOT NULL GROUP BY f.member_id)
SELECT m.id, CASE {cases} END FROM member m
LEFT JOIN o ON o.member_id = m.id LEFT JOIN e ON e.member_id = m.id
"""
SEED_003 = """
WHEN COALESCE(o.n, 0) >= 2 AND o.last >= :d90 THEN 'core'
WHEN o.last >= :d90 THEN 'new'
WHEN o.last >= :d180 THEN 'drowsy'
WHEN o.last >= :d365 THEN 'half-asleep'
WHEN COALESCE(o.n, 0) >= 1 THEN 'sleeping'
"""
ACTIVE = "(COALESCE(o.last >= :d{n}, 1 = 0) OR COALESCE(e.at >= :d{n}, 1 = 0))"
ACTIVITY_SQL = f"""
WHEN m.created_at >= :d30 AND COALESCE(o.n, 0) = 0 THEN 'fresh'
WHEN COALESCE(o.n, 0) = 0 AND {ACTIVE.format(n=60)} THEN 'browsing'
WHEN NOT {ACTIVE.format(n=180)} THEN 'idle'
"""
DAYS = (30, 60, 90, 180, 365)


def expected(db, cases: str, now: datetime) -> dict[int, str | None]:
    today = now.astimezone(CST).date()
    sql = FACTS.format(cases=cases)
    query = text(sql).bindparams(*(bindparam(f"d{n}", cutoff(today, int(n)), type_=UTCDateTime())
                                   for n in sorted(set(re.findall(r":d(\d+)", sql)))))
    db.rollback()
    return dict(db.execute(query).all())


def current(db) -> dict[int, str | None]:
    db.rollback()
    stays = dict(db.execute(select(MemberStage.member_id, MemberStage.stage).where(MemberStage.left_at.is_(None))).all())
    return {member_id: stays.get(member_id) for member_id in db.scalars(select(Member.id))}


def nightly(app) -> int:
    with app.app_context():
        return workers.points.compute_stages()


def year_of_members(db, account, now: datetime, count: int = 360, seed: int = 2026) -> None:
    """`count` members who joined over two years, with orders (some refunded in full or in
    part) and pushes spread over the last year and a bit, including right at the day edges."""
    rng = random.Random(seed)
    today = now.astimezone(CST).date()

    def some_time():
        if rng.random() < 0.15:          # a second either side of a boundary, or on it
            return cutoff(today, rng.choice(DAYS)) + timedelta(seconds=rng.choice((-1, 0, 1)))
        return now - timedelta(days=rng.uniform(0, 420))
    for n in range(count):
        member = Member(phone=f"1370000{n:04d}", level="registered", created_at=now - timedelta(days=rng.uniform(0, 730)))
        db.add(member)
        db.flush()
        for k in range(rng.choice((0, 0, 1, 1, 2, 3, 5))):
            amount = rng.randint(1, 500) * 100
            refunded = rng.choice((0, 0, 0, amount, amount // 2))
            db.add(Purchase(order_id=f"G{n}-{k}", member_id=member.id, amount_fen=amount, refunded_fen=refunded,
                            payment_method="wechat", paid_at=some_time(), source="test"))
        if rng.random() < 0.7:
            fan = Fan(account_id=account.id, openid=f"gen-{n}", member_id=member.id, following=True)
            db.add(fan)
            for k in range(rng.randint(0, 4)):
                db.add(Event(account_id=account.id, openid=fan.openid, type="text", sent_at=some_time()))
    db.commit()


@pytest.mark.parametrize("stages, cases", [(None, SEED_003), (ACTIVITY, ACTIVITY_SQL)], ids=["seed-003", "activity"])
def test_a_year_of_members_lands_where_a_direct_query_says(app, db, clock, account, stages, cases):
    spec = parse(EXAMPLE)
    if stages is not None:
        spec["stages"] = parse(stages)["stages"]
    with points.transaction(app) as book:
        load(book.db, spec)
    year_of_members(db, account, clock.now())
    want = expected(db, cases, clock.now())
    assert len(set(want.values())) == len({s["code"] for s in spec["stages"]}) + 1   # every stage, and none
    changed = nightly(app)
    assert current(db) == want
    assert changed == sum(1 for stage in want.values() if stage is not None)
    assert nightly(app) == 0                                    # the same night again: nothing

    first = clock.now()
    clock.advance(days=75)                                      # a quarter later, orders age
    moved = nightly(app)
    want = expected(db, cases, clock.now())
    assert current(db) == want and moved > 0
    db.rollback()
    for member_id, stage in want.items():                      # the history: one stay after another
        stays = db.execute(select(MemberStage.stage, MemberStage.entered_at, MemberStage.left_at)
                           .where(MemberStage.member_id == member_id).order_by(MemberStage.id)).all()
        assert [s.left_at for s in stays[:-1]] == [clock.now()] * (len(stays) - 1)
        assert all(s.entered_at in (first, clock.now()) for s in stays)
        assert all(a.stage != b.stage for a, b in zip(stays, stays[1:]))
        if stays:
            assert (stays[-1].left_at is None) == (stage is not None)


def test_other_features_read_stages_as_a_target_and_a_condition(app, db, clock, account):
    with points.transaction(app) as book:
        load(book.db, parse(EXAMPLE))
    year_of_members(db, account, clock.now(), count=80, seed=7)
    nightly(app)
    want = expected(db, SEED_003, clock.now())
    core = sorted(m for m, stage in want.items() if stage == "core")
    assert core and sorted(db.scalars(members_in("core"))) == core
    assert all(in_stage(db, m, "core") for m in core)
    assert not any(in_stage(db, m, "core") for m, stage in want.items() if stage != "core")


def test_an_agent_sees_the_stage_in_资料(app, org, db, clock):
    with points.transaction(app) as book:
        load(book.db, parse(EXAMPLE))
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    member = org.member(alice, phone="13812345678")
    for n, days in enumerate((40, 3)):
        db.add(Purchase(order_id=f"A-{n}", member_id=member.id, amount_fen=10000, payment_method="wechat",
                        paid_at=clock.now() - timedelta(days=days), source="test"))
    db.commit()
    alice.text("人工")
    assert "阶段：未分组" in zhang.text("资料")                # before the first night
    nightly(app)
    today = clock.now().astimezone(CST)
    assert f"阶段：主力顾客（{today:%Y-%m-%d} 起）" in zhang.text("资料")


def test_stage_files_name_their_mistakes():
    from bot.points.rules_file import RulesError
    with pytest.raises(RulesError) as raised:
        parse("stages:\n  - {code: a, name: 甲, asleep_for: 3}\n  - {code: a, name: 乙}\n  - {code: b, purchases_min: -1}\n")
    assert [msg for _, msg in raised.value.errors] == [
        "a stage: unknown field 'asleep_for' (allowed: active_within_days, code, inactive_for_days, "
        "joined_within_days, name, no_purchase_for_days, purchased_within_days, purchases_max, purchases_min)",
        "stage code 'a' is used twice (first on line 2)",
        "stage b: needs a name",
        "stage b: purchases_min must be a whole number ≥ 0, not -1"]
