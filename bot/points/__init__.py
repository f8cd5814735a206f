"""The points and growth engine: rules as data, two append-only ledgers, levels.

    policy.py     the rules in force, loaded from a rules file as versions
    rules_file.py reading and validating a rules file (errors with line numbers)
    rule_options.py  its pending, caps and stages parts
    ledger.py     Book: the one writer of entries, balances and lots
    engine.py     fire (awards), reverse, spend, adjust, expire_due
    caps.py       member-wide and per-rule caps, for points and growth
    pending.py    points and growth that wait for a date, and the maturing of them
    levels.py     levels from growth
    stages.py     lifecycle stages (新顾客, 沉睡顾客…) and who is in them
    purchases.py  orders and refunds
    notify.py     what members are told, through the outbound policy
    summary.py    what "积分" shows
"""
from contextlib import contextmanager
from typing import Iterator

from flask import Flask

from bot.jobs import committed
from bot.points.ledger import Book
from bot.points.notify import tell_members
from bot.telling import Teller


@contextmanager
def transaction(app: Flask) -> Iterator[Book]:
    """One transaction for callers that answer no push (API, CLI): committed on success, then
    the members are told (their messages are stored in the same transaction)."""
    with committed(app) as (db, buffer):
        now = app.extensions["clock"].now()
        book = Book(db, now)
        yield book
        tell_members(book, Teller(db, buffer, now))
