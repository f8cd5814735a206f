"""What the common push costs (the webhook's hot path): Redis and SQL round trips, counted at
the client edge, for a known fan with no flow open, nothing pending and no customer service:
a keyword text, a text nobody understands (the fallback) and a menu click. The budget fails the
test when a change makes the common path dearer."""
import itertools

import pytest
from cost_support import counting

from handlers.common import FALLBACK, UNKNOWN_MENU
from models import KeywordReply
from models.keyword import EXACT

MSG_IDS = itertools.count(7_700_000_000_000_000_001)
# Round trips one common push may cost (Redis, SQL).
BUDGET = {"redis": 2, "sql": 1}   # was 8 and 7: one script before the handler and one after


@pytest.fixture
def known_fan(phone, db, account):
    db.add(KeywordReply(account_id=account.id, keyword="营业时间", match=EXACT, reply="每天 9:00-18:00"))
    db.commit()
    alice = phone("alice", mode="safe")
    assert alice.text("你好") == FALLBACK      # the fan row is made, and checked quiet after it
    return alice


def cost_of(app, monkeypatch, push):
    with counting(monkeypatch, app) as cost:
        reply = push()
    return reply, cost


@pytest.mark.parametrize("push, expected", [
    (lambda fan: fan.text("营业时间"), "每天 9:00-18:00"),
    (lambda fan: fan.text("今天天气怎么样"), FALLBACK),
    (lambda fan: fan.click("NOT_A_FEATURE_YET"), UNKNOWN_MENU),
], ids=["keyword", "fallback", "click"])
def test_the_common_push_stays_within_its_round_trips(app, known_fan, monkeypatch, clock, push, expected):
    clock.advance(seconds=1)                           # a new push, not WeChat's retry of the first
    reply, cost = cost_of(app, monkeypatch, lambda: push(known_fan))
    assert reply == expected
    print(cost)
    assert len(cost.redis) <= BUDGET["redis"], cost
    assert len(cost.sql) <= BUDGET["sql"], cost


def test_the_common_pushs_one_statement_records_the_push_as_a_transaction_would(
        app, known_fan, db, account, clock):
    """The event row of a push that touched nothing else (one autocommit statement; on
    PostgreSQL the driver's own) reads back like any other: key fields, the rest as data,
    WeChat's CreateTime as an aware UTC time."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from models import Event
    clock.advance(seconds=1)
    assert known_fan.click("NOT_A_FEATURE_YET") == UNKNOWN_MENU
    clock.advance(seconds=1)
    assert known_fan.text("今天天气怎么样") == FALLBACK
    db.rollback()
    rows = db.scalars(select(Event).order_by(Event.id)).all()
    click, text = rows[-2], rows[-1]
    assert (click.type, click.key, click.msg_id, click.outcome) == ("click", "NOT_A_FEATURE_YET", None, "ok")
    assert (text.type, text.data["Content"], text.outcome) == ("text", "今天天气怎么样", "ok")
    assert text.msg_id is not None and text.openid == known_fan.openid and text.account_id == account.id
    assert text.sent_at == datetime.fromtimestamp(known_fan._now(), timezone.utc).replace(microsecond=0)
    assert text.recorded_at.tzinfo is not None
