"""Ctx: everything a handler may use, built per push by the webhook (STYLE.md 7.4)."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from redis import Redis
from sqlalchemy.orm import Session

from bot.capabilities import Capabilities
from bot.jobs import JobBuffer
from bot.sessions import ConvState
from bot.telling import tell_in_push
from models import Account, Fan


@dataclass
class Ctx:
    """A handler reads and flushes through `db` (never commits), asks for side effects through
    `enqueue` (run after commit), tells people through `tell` (the outbound policy), and reads
    time from `now`."""

    account: Account
    fan: Fan
    db: Session
    redis: Redis
    conv: ConvState
    enqueue: JobBuffer
    now: datetime
    caps: Capabilities
    config: Mapping[str, Any]
    outbox: Any = None           # bot.outbound.Outbox, bound to this push
    msg: Any = None              # the wechatpy message being answered
    # What a router's filter learnt about the sender (is this an agent?), so the routers that
    # ask it again in this push cost no second query.
    memo: dict[str, Any] = field(default_factory=dict)
    # A line for the end of this push's text reply (a gentle reminder); none without a text reply.
    postscript: str | None = None
    facts: Any = None            # bot.facts.FanFacts: what Redis knows of the fan ("maybe" caches)
    keywords: Any = None         # bot.facts.KeywordCache of the account

    @property
    def openid(self) -> str:
        return self.fan.openid

    def tell(self, person, what) -> None:
        """Tell a person (a Fan, a Member, an openid of this account) a text or a Media, through
        the outbound policy: the sender's texts in the passive reply, the rest by a job."""
        tell_in_push(self, person, what)
