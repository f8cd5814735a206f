"""What customer service costs every push (the agent check could run on every push of every fan).
A fan's facts (bot/facts.py) say "maybe" until one probe of the database (pending messages, an open
conversation, a staff row: one statement) has found them quiet; from then on a quiet fan's push
costs customer service nothing, and a text that could be a rating costs the two lookups it needs."""
from contextlib import contextmanager

from sqlalchemy import event, select, text

from bot.cs.relay import OPEN
from handlers.common import FALLBACK
from menus.definition import MenuKey
from models import Conversation


@contextmanager
def statements(app):
    """Every SQL statement the app runs inside the block."""
    seen: list[str] = []
    engine = app.extensions["engine"]

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def cs_queries(seen: list[str]) -> list[str]:
    """The statements customer service added: its tables, and the staff lookup behind agent_for."""
    return [s for s in seen if "cs_" in s or "FROM staff" in s]


def test_pushes_outside_a_conversation(org, app):
    alice = org.fan("alice")
    bob = org.fan("bob")
    org.member(bob)

    carol = org.phone("carol")
    with statements(app) as seen:
        carol.follow()                                      # her row is made, then probed once
    probe = cs_queries(seen)
    assert len(probe) == 1 and probe[0].startswith("SELECT EXISTS") and "cs_conversation" in probe[0]

    with statements(app) as seen:                           # known quiet from her first push on
        assert carol.click(MenuKey.ME).startswith("您还没有绑定手机")
        assert alice.text("你好") == FALLBACK
    assert cs_queries(seen) == []

    with statements(app) as seen:                           # bob's facts changed when he bound
        assert bob.text("你好") == FALLBACK
    assert sorted(("EXISTS" in s, "FROM staff" in s) for s in cs_queries(seen)) == [
        (False, False), (False, True), (True, True)]       # his conversation, am I an agent, the probe

    with statements(app) as seen:
        assert alice.text("5") == FALLBACK                  # no conversation closed lately
    assert len(cs_queries(seen)) == 2                       # an open conversation? a rateable one?


def plan_of(db, query) -> str:
    sql = str(query.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL enable_seqscan = off"))     # a tiny table: ask what it would use
        plan = "\n".join(db.scalars(text(f"EXPLAIN {sql}")))
    else:
        plan = "\n".join(str(row[-1]) for row in db.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    db.rollback()
    return plan


def test_the_open_conversation_lookup_uses_the_partial_unique_index(app, db):
    """The literal predicate lets the planner prove the query matches the index's WHERE."""
    assert "uq_cs_conversation_open_fan" in plan_of(db, select(Conversation.id).where(Conversation.fan_id == 1, OPEN))


def test_the_rating_lookup_is_one_probe_of_the_fans_closed_conversations(app, db, clock):
    """A bare "1"-"5" from a fan reads only that fan's conversations (ix_cs_conversation_fan_closed)."""
    query = (select(Conversation.id).where(Conversation.fan_id == 1, Conversation.status == "closed",
                                           Conversation.closed_at >= clock.now(), Conversation.rating.is_(None))
             .order_by(Conversation.closed_at.desc()).limit(1))
    assert "ix_cs_conversation_fan_closed" in plan_of(db, query)
