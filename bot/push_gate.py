"""The push's Redis work in two round trips: one script before the handler, one after.

Opening (`enter`): check that the process's copy of the account is Redis's (bot/directory.py;
else nothing is claimed and StaleAccount is raised), claim the push (dedup, SET NX), reopen the
person's customer-service window, try the fan lock, and read the conversation, the fan's facts,
the staff epoch and the account's keyword list. Closing (`leave`): save the conversation, release the lock (if still ours), store
what the reader checked in the database (compare-and-set on the generation it saw, bot/facts.py)
and cache the reply for WeChat's retries. Same keys, TTLs and meaning as bot/sessions.py and
bot/outbound.CsWindow: they only travel together.
"""
import json
import secrets
from hashlib import sha1

from redis import Redis
from redis.exceptions import NoScriptError

from bot import keys
from bot.facts import FanFacts, KeywordCache
from bot.outbound import EVENT_KINDS, MESSAGE_KINDS, WINDOWS
from bot.sessions import DEFERRED, PENDING, ConvState, ConversationStore

OPEN = """
if ARGV[8] ~= '' and redis.call('GET', KEYS[8]) ~= ARGV[8] then
  return {-1}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[3] .. '_until', ARGV[4], ARGV[3] .. '_used', 0)
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
local locked = redis.call('SET', KEYS[3], ARGV[6], 'NX', 'PX', ARGV[7]) and 1 or 0
return {1, locked, redis.call('GET', KEYS[4]) or '', redis.call('HGETALL', KEYS[5]),
        redis.call('GET', KEYS[6]) or '0', redis.call('HGETALL', KEYS[7])}
"""

CLOSE = """
if ARGV[1] == 'set' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
elseif ARGV[1] == 'del' then
  redis.call('DEL', KEYS[1])
end
local released = 0
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
  released = 1
end
if ARGV[6] ~= '' and (redis.call('HGET', KEYS[3], 'gen') or '0') == ARGV[5] then
  redis.call('HSET', KEYS[3], 'gen', ARGV[5], 'checked', ARGV[5], 'fan', ARGV[6], 'member', ARGV[7],
             'staff', ARGV[8])
  redis.call('EXPIRE', KEYS[3], ARGV[9])
end
if ARGV[11] ~= '' and (redis.call('HGET', KEYS[4], 'gen') or '0') == ARGV[10] then
  redis.call('HSET', KEYS[4], 'gen', ARGV[10], 'checked', ARGV[10], 'rows', ARGV[11])
  redis.call('EXPIRE', KEYS[4], ARGV[12])
end
if ARGV[13] == 'forget' then
  redis.call('DEL', KEYS[5])
elseif ARGV[13] == 'remember' then
  redis.call('SET', KEYS[5], ARGV[14], 'EX', ARGV[15])
end
return released
"""
# A worker claims a deferred push (or one whose key expired meanwhile) for itself, once.
RESUME = """
local value = redis.call('GET', KEYS[1])
if value and value ~= ARGV[1] then return {0} end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return {1, redis.call('GET', KEYS[2]) or '', redis.call('HGETALL', KEYS[3]), redis.call('GET', KEYS[4]) or '0',
        redis.call('HGETALL', KEYS[5])}
"""
KEEP = "keep"
_SHA: dict[str, str] = {}


def _run(redis: Redis, script: str, numkeys: int, *args):
    """EVALSHA, loading the script on first use by this Redis (one round trip once it is known)."""
    sha = _SHA.get(script) or _SHA.setdefault(script, sha1(script.encode()).hexdigest())
    try:
        return redis.evalsha(sha, numkeys, *args)
    except NoScriptError:
        return redis.eval(script, numkeys, *args)


def run_script(redis: Redis, script: str, script_keys: list, args: list):
    """A script of the push's Redis work in one round trip (see _run)."""
    return _run(redis, script, len(script_keys), *script_keys, *args)


def window_args(push_kind: str, now: float) -> tuple[str, str]:
    """(window, until) the push reopens: a message's 48 h, an event's minute, or none (§4.7)."""
    window = "msg" if push_kind in MESSAGE_KINDS else "evt" if push_kind in EVENT_KINDS else ""
    return window, (repr(now + WINDOWS[window][1]) if window else "")


def first_seen_of(value: bytes) -> str | None:
    """What a repeat finds its first delivery left: None while it still runs (wait for its
    reply), "" for no reply or a deferred push, else the reply."""
    return None if value == PENDING else "" if value in (b"", DEFERRED) else value.decode()


def _pairs(flat) -> dict[str, str]:
    items = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    return dict(zip(items[::2], items[1::2]))


class StaleAccount(Exception):
    """The account the push was checked with is not Redis's copy: read it again, check again."""


class PushGate:
    """One push's passage through Redis (see the module docstring). `account_json`: the JSON
    the account was read from, when it is a process's copy to check ("": checked already)."""

    def __init__(self, redis: Redis, account, openid: str, fingerprint: str, account_json: str = ""):
        self.redis, self.account_id, self.openid = redis, account.id, openid
        self.account_key, self.account_json = keys.account(account.slug), account_json
        self.seen_key = keys.seen(account.slug, fingerprint)
        self.lock_key = keys.fan_lock(account.slug, openid)
        self.window_key = keys.cs_window(account.slug, openid)
        self.conv_key = keys.conversation(account.slug, openid)
        self.facts_key = keys.fan_facts(account.id, openid)
        self.keywords_key = keys.keyword_list(account.id)
        self.token = secrets.token_hex(8)
        self.locked = False
        self.first_seen: str | None = None     # a repeat: what the first delivery left
        self.loaded = ConvState()
        self.stored = False
        self.facts = FanFacts()
        self.keywords = KeywordCache()
        self.checked: tuple[int, int | None] | None = None    # (fan id, member id) found quiet
        self.own_bumps = 0      # the checking session's own bumps of the facts' gen (bot/facts.py)

    def enter(self, push_kind: str, now: float) -> bool:
        """True for the first delivery of this push (then `locked` says if the lock is ours)."""
        window, until = window_args(push_kind, now)
        result = _run(self.redis, OPEN, 8, self.seen_key, self.window_key, self.lock_key, self.conv_key,
            self.facts_key, keys.staff_epoch(), self.keywords_key, self.account_key,
            PENDING, keys.SEEN_TTL, window, until, keys.CS_WINDOW_TTL, self.token, keys.FAN_LOCK_TTL * 1000,
            self.account_json)
        if result[0] == -1:
            raise StaleAccount(self.account_key)
        if not result[0]:
            self.first_seen = first_seen_of(result[1])
            return False
        self.locked = bool(result[1])
        self._read(*result[2:])
        return True

    def _read(self, conv, facts, staff_epoch, keywords) -> None:
        self.stored = bool(conv)
        self.loaded = ConversationStore.parse(conv or None, self.conv_key)
        staff_epoch = staff_epoch.decode() if isinstance(staff_epoch, bytes) else str(staff_epoch)
        self.facts = FanFacts.read(_pairs(facts), staff_epoch)
        self.keywords = KeywordCache.read(_pairs(keywords))

    def resume(self) -> bool:
        """A worker's claim of a deferred push (then read as `enter` does); False if another
        claim came first (the push ran, or runs)."""
        result = _run(self.redis, RESUME, 5, self.seen_key, self.conv_key, self.facts_key, keys.staff_epoch(),
                      self.keywords_key, DEFERRED, PENDING, keys.SEEN_TTL)
        if not result[0]:
            return False
        self._read(*result[1:])
        return True

    def mark_deferred(self) -> None:
        """Acknowledged, a worker finishes it: repeats get the empty answer; the lock, if ours,
        is released."""
        self.leave(None, DEFERRED.decode())

    def forget(self) -> None:
        """Let WeChat's next delivery run the push again."""
        self.redis.delete(self.seen_key)

    def wait_for_lock(self, seconds: float) -> bool:
        """The lock was held: wait for it (as redis-py's Lock would), with our token."""
        lock = self.redis.lock(self.lock_key, timeout=keys.FAN_LOCK_TTL, blocking_timeout=seconds)
        self.locked = bool(lock.acquire(token=self.token))
        return self.locked

    def leave(self, conv: ConvState | None, reply: str | None) -> bool:
        """Save `conv` (None: leave it as it is), release the lock, store what was checked, and
        cache `reply` for the retries (None: forget the push, so WeChat's next delivery runs).
        False if the lock had expired (someone else may have run meanwhile)."""
        if conv is None:
            action, body = KEEP, ""
        elif conv.state is None:
            action, body = ("del" if self.stored else KEEP), ""
        else:
            action, body = "set", conv.to_json()
        fan, member = ("", "") if self.checked is None else (str(self.checked[0]), str(self.checked[1] or ""))
        rows = self.keywords.fresh
        released = _run(self.redis, CLOSE, 5, self.conv_key, self.lock_key, self.facts_key, self.keywords_key, self.seen_key,
            action, body, keys.CONVERSATION_TTL, self.token if self.locked else "",
            str(int(self.facts.gen) + self.own_bumps), fan, member, self.facts.staff_epoch, keys.FACTS_TTL,
            self.keywords.gen, json.dumps(rows, ensure_ascii=False) if rows is not None else "",
            keys.KEYWORDS_TTL, "forget" if reply is None else "remember", reply or "", keys.SEEN_TTL)
        return bool(released) or not self.locked
