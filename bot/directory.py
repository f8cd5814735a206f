"""Which account a webhook URL belongs to, looked up once per minute, not once per push.

The webhook needs the account (token, AES keys, type) before it can even check a signature; a
database round trip for it on every push cost more than the rest of a cached repeat. The row is
kept in Redis, so every process sees the same copy, and `forget` (called by the accounts CLI)
drops it at once when an account changes. Unknown slugs are remembered too, so a scan of random
URLs costs Redis lookups, not queries.

Each process also keeps the copy it last read (`local_account`), so a push needs no round trip
for it: the push's first script (bot/push_gate.py) compares that copy with Redis's before it
claims anything, and a copy that differs (changed, forgotten, expired) is read again and the push
checked with it (bot/webhook.py). A local copy is only ever used once Redis said it is current.
"""
import json

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import make_transient_to_detached

from bot import keys
from models import Account

_FIELDS = [c.key for c in Account.__table__.columns if c.key != "created_at"]


# slug -> (Redis's JSON, the detached row built from it), this process's copies. One row object
# serves every push: it is only ever read, and merged into a session with load=False (a copy).
_LOCAL: dict[str, tuple[str, Account]] = {}


def account_by_slug(redis: Redis, sessions, slug: str) -> Account | None:
    """The account served at /wechat/<slug> (detached: merge it into a session to use it there)."""
    return read_account(redis, sessions, slug)[0]


def read_account(redis: Redis, sessions, slug: str) -> tuple[Account | None, str]:
    """(account, the JSON Redis holds for it), from Redis or else the database; kept as this
    process's copy."""
    cached = redis.get(keys.account(slug))
    if cached is not None:
        raw = cached.decode()
        fields = json.loads(raw)
    else:
        with sessions() as db:
            account = db.scalar(select(Account).where(Account.slug == slug))
        fields = {name: getattr(account, name) for name in _FIELDS} if account else {}
        raw = json.dumps(fields)
        redis.set(keys.account(slug), raw, ex=keys.ACCOUNT_TTL)
    if not fields:
        _LOCAL.pop(slug, None)
        return None, raw
    account = _detached(fields)
    _LOCAL[slug] = (raw, account)
    return account, raw


def local_account(slug: str) -> tuple[Account, str] | None:
    """This process's last copy and the JSON it was read from, unchecked (see the docstring)."""
    copy = _LOCAL.get(slug)
    return (copy[1], copy[0]) if copy else None


def forget(redis: Redis, slug: str) -> None:
    """The account changed or was removed: the next push reads it afresh (every process's copy
    differs from Redis's from now on)."""
    redis.delete(keys.account(slug))
    _LOCAL.pop(slug, None)


def _detached(fields: dict) -> Account:
    account = Account(**fields)
    make_transient_to_detached(account)
    return account
