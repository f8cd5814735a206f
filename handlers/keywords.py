"""Keyword auto-replies per account: an exact match first, then the longest contained keyword."""
from sqlalchemy import select

from bot.dispatch import PASS, Router, text_of
from models import KeywordReply
from models.keyword import CONTAINS, EXACT

router = Router("keywords")


def keyword_rows(db, account_id: int, cache=None) -> list[tuple[str, str, str]]:
    """The account's (keyword, match, reply) in the order they were added: from the push's
    checked cache (bot/facts.KeywordCache) when it has them, else one query (then cached)."""
    if cache is not None and cache.rows is not None:
        return cache.rows
    # An account has tens of keywords: one query for all of them, matched here (portable across
    # SQLite and PostgreSQL, no LIKE wildcards hiding in keywords, one round trip per text).
    rows = [tuple(row) for row in db.execute(
        select(KeywordReply.keyword, KeywordReply.match, KeywordReply.reply)
        .where(KeywordReply.account_id == account_id).order_by(KeywordReply.id)).all()]
    if cache is not None:
        cache.fresh = rows
    return rows


def find_reply(db, account_id: int, text: str, cache=None) -> str | None:
    """The configured answer to `text`, or None."""
    rows = keyword_rows(db, account_id, cache)
    exact = next((reply for keyword, match, reply in rows if match == EXACT and keyword == text), None)
    if exact is not None:
        return exact
    contained = [(keyword, reply) for keyword, match, reply in rows if match == CONTAINS and keyword in text]
    # The longest contained keyword is the most specific; ties go to the one added first.
    return max(contained, key=lambda row: len(row[0]), default=(None, None))[1]


@router.on(lambda msg: msg.type == "text")
def auto_reply(ctx, msg):
    """Answers a text with the account's configured auto-reply, if one matches."""
    reply = find_reply(ctx.db, ctx.account.id, text_of(msg), ctx.keywords)
    return reply if reply is not None else PASS
