"""Which account a webhook URL belongs to, looked up once per minute, not once per push.

The webhook needs the account (token, AES keys, type) before it can even check a signature; a
database round trip for it on every push cost more than the rest of a cached repeat. The row is
kept in Redis, so every process sees the same copy, and `forget` (called by the accounts CLI)
drops it at once when an account changes. Unknown slugs are remembered too, so a scan of random
URLs costs Redis lookups, not queries.
"""
import json

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import make_transient_to_detached

from bot import keys
from models import Account

_FIELDS = [c.key for c in Account.__table__.columns if c.key != "created_at"]


def account_by_slug(redis: Redis, sessions, slug: str) -> Account | None:
    """The account served at /wechat/<slug> (detached: merge it into a session to use it there)."""
    cached = redis.get(keys.account(slug))
    if cached is not None:
        fields = json.loads(cached)
        return _detached(fields) if fields else None
    with sessions() as db:
        account = db.scalar(select(Account).where(Account.slug == slug))
    fields = {name: getattr(account, name) for name in _FIELDS} if account else {}
    redis.set(keys.account(slug), json.dumps(fields), ex=keys.ACCOUNT_TTL)
    return account


def forget(redis: Redis, slug: str) -> None:
    """The account changed or was removed: the next push reads it afresh."""
    redis.delete(keys.account(slug))


def _detached(fields: dict) -> Account:
    account = Account(**fields)
    make_transient_to_detached(account)
    return account
