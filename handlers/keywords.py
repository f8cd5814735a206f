"""Keyword auto-replies per account: an exact match first, then the longest contained keyword."""
from sqlalchemy import func, select

from bot.dispatch import PASS, Router, text_of
from models import KeywordReply
from models.keyword import CONTAINS, EXACT

router = Router("keywords")


def find_reply(db, account_id: int, text: str) -> str | None:
    """The configured answer to `text`, or None."""
    exact = db.scalar(select(KeywordReply.reply).where(
        KeywordReply.account_id == account_id, KeywordReply.match == EXACT, KeywordReply.keyword == text))
    if exact is not None:
        return exact
    # An account has tens of keywords: test containment here (portable across SQLite and
    # PostgreSQL, and no LIKE wildcards hiding in keywords). The longest is the most specific.
    rows = db.execute(select(KeywordReply.keyword, KeywordReply.reply).where(
        KeywordReply.account_id == account_id, KeywordReply.match == CONTAINS,
    ).order_by(func.length(KeywordReply.keyword).desc(), KeywordReply.id)).all()
    return next((reply for keyword, reply in rows if keyword in text), None)


@router.on(lambda msg: msg.type == "text")
def auto_reply(ctx, msg):
    """Answers a text with the account's configured auto-reply, if one matches."""
    reply = find_reply(ctx.db, ctx.account.id, text_of(msg))
    return reply if reply is not None else PASS
