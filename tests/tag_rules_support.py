"""Shared set-up for the tag-rule, mass-send and report transcripts: a month of behaviour pushed
through the webhook by a handful of fans, members who bind and buy through the booking API,
and direct reads of what happened (independent of bot/tag_rules/) to check counts against."""
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.jobs import committed
from bot.tag_rules.file import EXAMPLE_PATH
from models import Event, Fan, FanTag, Integration, Member, Purchase
from tests.binding_support import bind, load_rules
from tests.points_support import SECRET, signed_post

EXAMPLE = EXAMPLE_PATH.read_text(encoding="utf-8")
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
QUIET = ("ivan", "judy")       # only say hello: no rule should tag them
BUYERS = {"alice": "13800000001", "bob": "13800000002", "carol": "13800000003"}


def month_of_behaviour(app, phone, jobs, clock, seed: int = 4) -> dict:
    """Ten fans follow, three bind and buy, and for 30 days each does a few things a day
    (menu clicks, locations, 抽奖, other texts; two only say hello); returns the people by name."""
    people = {name: phone(name) for name in NAMES}
    for person in people.values():
        person.follow()
    load_rules(app)
    for name, number in BUYERS.items():
        bind(people[name], app, jobs, number)
    with committed(app) as (db, _):
        db.add(Integration(name="booking", secret=SECRET))
    jobs.run_all()
    rng, client, orders = random.Random(seed), app.test_client(), 0
    for day in range(30):
        for name, person in people.items():
            for _ in range(rng.randrange(0, 3)):
                what = 0.9 if name in QUIET else rng.random()
                if what < 0.3:
                    person.click(rng.choice(["LOTTERY", "MY_POINTS", "SIGN_IN"]))
                elif what < 0.45:
                    person.location(31.2, 121.4, "上海")
                elif what < 0.7:
                    person.text("抽奖")
                else:
                    person.text("你好")
            if name in BUYERS and rng.random() < 0.1:
                orders += 1
                paid = clock.now().isoformat()
                body = {"order_id": f"O-{orders}", "phone": BUYERS[name], "amount": "99.00",
                        "paid_at": paid, "payment_method": "cash"}
                response = signed_post(client, "/api/purchases", body, "booking", SECRET, int(clock.timestamp()))
                assert response.status_code == 201, response.json
        clock.advance(days=1)
    jobs.run_all()
    return people


def direct_counts(db, now, days: int = 30) -> dict[int, Counter]:
    """Per fan id, how often each behaviour happened in the window, counted in Python from the
    raw rows (the check on the rules' SQL)."""
    since = now - timedelta(days=days)
    fans = {(f.account_id, f.openid): f for f in db.scalars(select(Fan))}
    counts: dict[int, Counter] = {f.id: Counter() for f in fans.values()}
    for event in db.scalars(select(Event)):
        fan = fans.get((event.account_id, event.openid))
        if fan is None or not (since < event.sent_at <= now) or event.outcome != "ok":
            continue
        if event.type == "click":
            counts[fan.id]["click"] += 1
            counts[fan.id][f"click:{event.key}"] += 1
        elif event.type in ("location", "location_report"):
            counts[fan.id]["location"] += 1
        elif event.type == "text":
            counts[fan.id][f"text:{event.data.get('Content')}"] += 1
    members = {f.member_id: f.id for f in fans.values() if f.member_id}
    for purchase in db.scalars(select(Purchase)):
        if since < purchase.paid_at <= now and purchase.member_id in members:
            counts[members[purchase.member_id]]["purchase"] += 1
    return counts


def rule_tagged(db, tag: str) -> set[int]:
    db.rollback()
    return set(db.scalars(select(FanTag.fan_id).where(FanTag.name == tag)))


def fan_ids(db, people) -> dict[str, int]:
    db.rollback()
    by_openid = {f.openid: f.id for f in db.scalars(select(Fan))}
    return {name: by_openid[p.openid] for name, p in people.items()}


def member_count(db) -> int:
    return len(list(db.scalars(select(Member.id))))
