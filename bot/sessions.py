"""Redis-side state of the request path: retry dedup, per-fan locks, conversation state."""
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from bot import keys

log = logging.getLogger(__name__)

PENDING = b"\x00pending"
# Acknowledged already and handed to a worker (bot/overload.py): repeats get the empty answer.
DEFERRED = b"\x00deferred"


class Dedup:
    """WeChat delivers an unanswered push up to three times (§2): the first runs, repeats replay."""

    def __init__(self, redis: Redis, account: str, fingerprint: str):
        self.redis = redis
        self.key = keys.seen(account, fingerprint)

    def claim(self) -> bool:
        """True for the first delivery (SET NX); repeats get False, however concurrent."""
        return bool(self.redis.set(self.key, PENDING, nx=True, ex=keys.SEEN_TTL))

    def remember(self, reply: str) -> None:
        """Cache the first delivery's reply (plaintext XML, or "" for none) for its repeats."""
        self.redis.set(self.key, reply.encode(), ex=keys.SEEN_TTL)

    def forget(self) -> None:
        """Let WeChat's next delivery run again (the first could not be handled at all)."""
        self.redis.delete(self.key)

    def replay(self, wait_seconds: float) -> str | None:
        """The first delivery's reply, waiting a little while it runs; None if it still runs."""
        deadline = time.monotonic() + wait_seconds
        while True:
            value = self.redis.get(self.key)
            if value == DEFERRED:
                return ""
            if value is not None and value != PENDING:
                return value.decode()
            if value is None or time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


@dataclass
class ConvState:
    """The fan's active conversation: `state` is "<flow>:<step>", None when there is none."""

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def flow(self) -> str | None:
        return self.state.split(":", 1)[0] if self.state else None

    def to_json(self) -> str:
        return json.dumps({"state": self.state, "data": self.data, "v": 1}, ensure_ascii=False)


class ConversationStore:
    """Load and save one fan's ConvState under a TTL; expiry is the conversation's timeout."""

    def __init__(self, redis: Redis, account: str, openid: str):
        self.redis = redis
        self.key = keys.conversation(account, openid)

    def load(self) -> ConvState:
        return self.parse(self.redis.get(self.key), self.key)

    @staticmethod
    def parse(raw, key: str) -> ConvState:
        """The stored JSON (or None) as a ConvState."""
        if raw is None:
            return ConvState()
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not (isinstance(value, dict) and isinstance(value.get("state"), (str, type(None)))
                and isinstance(value.get("data") or {}, dict)):
            # Unreadable (another release, a hand edit): start afresh rather than fail every push
            # until the TTL runs out; saving the empty state deletes the key.
            log.error("unreadable conversation key=%s; conversation ended", key)
            return ConvState()
        return ConvState(state=value.get("state"), data=value.get("data") or {})

    def save(self, conv: ConvState) -> None:
        if conv.state is None:
            self.redis.delete(self.key)
        else:
            self.redis.set(self.key, conv.to_json(), ex=keys.CONVERSATION_TTL)
