"""Keyword auto-replies per account: an exact match first, then the longest contained keyword."""
from sqlalchemy import select

from bot.dispatch import PASS, Router, text_of
from models import KeywordReply
from models.keyword import CONTAINS, EXACT

router = Router("keywords")


def find_reply(db, account_id: int, text: str) -> str | None:
    """The configured answer to `text`, or None."""
    # An account has tens of keywords: one query for all of them, matched here (portable across
    # SQLite and PostgreSQL, no LIKE wildcards hiding in keywords, one round trip per text).
    rows = db.execute(select(KeywordReply.keyword, KeywordReply.match, KeywordReply.reply)
                      .where(KeywordReply.account_id == account_id)
                      .order_by(KeywordReply.id)).all()
    exact = next((reply for keyword, match, reply in rows if match == EXACT and keyword == text), None)
    if exact is not None:
        return exact
    contained = [(keyword, reply) for keyword, match, reply in rows if match == CONTAINS and keyword in text]
    # The longest contained keyword is the most specific; ties go to the one added first.
    return max(contained, key=lambda row: len(row[0]), default=(None, None))[1]


@router.on(lambda msg: msg.type == "text")
def auto_reply(ctx, msg):
    """Answers a text with the account's configured auto-reply, if one matches."""
    reply = find_reply(ctx.db, ctx.account.id, text_of(msg))
    return reply if reply is not None else PASS
