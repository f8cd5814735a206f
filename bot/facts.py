"""Redis caches of the hot path that may only ever say "maybe" (keys in bot/keys.py).

Two caches, each a hash with a generation counter `gen` and the generation `checked` at which a
reader last read the database:
- a fan's facts: its row id and member, and that it is *quiet*: nothing pending for it, no open
  customer-service conversation, no staff row behind its member (so no agent);
- an account's keyword list.
A reader trusts an entry only when `checked == gen` (and, for a fan, the staff epoch is the one
it was checked at); anything else, a missing hash included, sends it to the database.

Why that is safe: every writer of what the entry summarises (a pending message, a conversation,
the fan row, a staff row, a keyword) bumps `gen` when its session flushes, before its commit,
and again after the commit; a reader stores `checked` only if `gen` is still the one it saw
before it read the database (a compare-and-set in the push's closing script). So a reader who
read the database before a writer committed loses its `checked` to the writer's second bump,
and a writer that dies between flag and commit has committed nothing. A reader that is also a
writer (a new fan's first push makes the fan row) read the database after its own writes, so it
expects `gen` to be the one it saw plus its own bumps (`own_bumps`): any other writer's bump
still fails the compare. A change that takes a message out of PENDING (claimed, sent) is no
such write: it cannot make "nothing pending" false, so it bumps nothing; one that puts a message
back into PENDING (a failed send) bumps as a new one does. Losing Redis loses the
counters and the entries together: every reader goes to the database. A process that dies after
its commit and before its second bump leaves at most FACTS_TTL of trust in a stale entry; what it
left pending stays pending (nothing is lost) and goes out with the next check.

Writers outside this process's sessions (a hand edit in SQL) are not seen: FACTS_TTL and
KEYWORDS_TTL bound them, as ACCOUNT_TTL bounds the account cache.
"""
import json
import logging
from dataclasses import dataclass

from sqlalchemy import event, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from bot import keys
from models import Fan, KeywordReply, OutboundMessage, Staff
from models.cs import CLOSED, Conversation
from models.outbound import PENDING

log = logging.getLogger(__name__)

TOUCHED = "facts_touched"      # session.info: the hashes this transaction invalidates
TOUCHED_DB = "db_touched"      # session.info: the session began a transaction on a connection
BUMPS = "facts_bumps"          # session.info: {key: how many times this session bumped its gen}


@dataclass
class FanFacts:
    """What the push's opening script found for the fan; `trusted` only when checked == gen."""

    gen: str = "0"
    trusted: bool = False
    fan_id: int | None = None
    member_id: int | None = None
    staff_epoch: str = "0"

    @classmethod
    def read(cls, fields: dict, staff_epoch: str) -> "FanFacts":
        gen = fields.get("gen", "0")
        trusted = ("checked" in fields and fields["checked"] == gen and fields.get("staff") == staff_epoch
                   and fields.get("fan", "").isdigit())
        if not trusted:
            return cls(gen=gen, staff_epoch=staff_epoch)
        member = fields.get("member", "")
        return cls(gen=gen, trusted=True, fan_id=int(fields["fan"]),
                   member_id=int(member) if member.isdigit() else None, staff_epoch=staff_epoch)

    @property
    def quiet(self) -> bool:
        """Nothing pending, no open conversation, no agent: the database need not be asked."""
        return self.trusted


@dataclass
class KeywordCache:
    gen: str = "0"
    rows: list | None = None       # [(keyword, match, reply)] when trusted
    fresh: list | None = None      # what a reader read from the database, to store

    @classmethod
    def read(cls, fields: dict) -> "KeywordCache":
        gen = fields.get("gen", "0")
        if fields.get("checked") == gen and "rows" in fields:
            try:
                return cls(gen=gen, rows=[tuple(row) for row in json.loads(fields["rows"])])
            except ValueError:
                log.error("unreadable keyword cache; reading the database")
        return cls(gen=gen)


def quiet_in_db(db: Session, account_id: int, fan: Fan) -> bool:
    """One query: nothing pending for the fan, no open conversation, no staff row for its member."""
    pending = exists().where(OutboundMessage.account_id == account_id, OutboundMessage.openid == fan.openid,
                             OutboundMessage.status == PENDING)
    conversation = exists().where(Conversation.fan_id == fan.id, Conversation.status != CLOSED)
    probe = [pending, conversation]
    if fan.member_id is not None:
        probe.append(exists().where(Staff.member_id == fan.member_id))
    return not any(db.execute(select(*probe)).one())


# --- writers: flag before the commit, and again after it ---------------------------------------
def _touched(session: Session, flush_context, instances) -> None:
    found = set()
    dirty = session.dirty       # built anew on every read: read once
    for obj in (*session.new, *dirty, *session.deleted):
        if isinstance(obj, OutboundMessage):
            if obj in dirty and PENDING not in get_history(obj, "status").added:
                continue    # claimed, sent, noticed: a row leaving PENDING makes no "quiet" wrong
            if obj.account_id is not None and obj.openid is not None:   # else unreachable: no fan
                found.add(keys.fan_facts(obj.account_id, obj.openid))
        elif isinstance(obj, Fan):
            found.add(keys.fan_facts(obj.account_id, obj.openid))
        elif isinstance(obj, Conversation):
            fan = session.get(Fan, obj.fan_id) if obj.fan_id is not None else None
            if fan is not None:
                found.add(keys.fan_facts(fan.account_id, fan.openid))
        elif isinstance(obj, Staff):
            found.add(keys.staff_epoch())
        elif isinstance(obj, KeywordReply):
            found.add(keys.keyword_list(obj.account_id))
    if found:
        session.info.setdefault(TOUCHED, set()).update(found)
        bump(session, found)


def bump(session: Session, found) -> None:
    redis = session.info.get("redis")
    if redis is None:
        return
    pipe = redis.pipeline(transaction=False)
    for key in found:
        if key == keys.staff_epoch():
            pipe.incr(key)
        else:
            pipe.hincrby(key, "gen", 1)
            pipe.expire(key, keys.FACTS_TTL if key.startswith("facts:") else keys.KEYWORDS_TTL)
    pipe.execute()
    counts = session.info.setdefault(BUMPS, {})
    for key in found:
        counts[key] = counts.get(key, 0) + 1


def own_bumps(session: Session, key: str) -> int:
    """How many times this session bumped `key`'s generation (each bump adds exactly one)."""
    return session.info.get(BUMPS, {}).get(key, 0)


def _after_commit(session: Session) -> None:
    found = session.info.pop(TOUCHED, None)
    if found:
        try:
            bump(session, found)
        except Exception:   # the flush's bump stands; FACTS_TTL bounds the rest
            log.exception("could not flag caches after commit")


def _after_rollback(session: Session) -> None:
    session.info.pop(TOUCHED, None)


def _began(session: Session, transaction, connection) -> None:
    session.info[TOUCHED_DB] = True


def install() -> None:
    """Every session of this service flags the caches (idempotent)."""
    if not event.contains(Session, "before_flush", _touched):
        event.listen(Session, "before_flush", _touched)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_begin", _began)
        event.listen(Session, "after_soft_rollback", lambda s, t: t.parent is None and _after_rollback(s))
