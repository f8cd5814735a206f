"""A short claim in Redis that turns repeated requests (double taps, impatient repeats) into one
job: the first request within `ttl` seconds wins; the job lifts the claim only after a failure,
so the person may ask again at once."""
from datetime import datetime

from redis import Redis


def claim(redis: Redis, key: str, now: datetime, ttl: int) -> bool:
    """True for the first request within `ttl`. The value is the claim's time by our clock, so a
    clock that moved on (tests, a corrected server clock) frees it as the TTL would; one
    person's pushes are serialised by the fan lock, so read-then-set cannot race here."""
    stamp = now.timestamp()
    if redis.set(key, stamp, nx=True, ex=ttl):
        return True
    held = redis.get(key)
    if held is not None and 0 <= stamp - float(held) < ttl:
        return False
    redis.set(key, stamp, ex=ttl)
    return True
