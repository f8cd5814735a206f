"""Telling members what changed (earned, reversed, expiring, level), through the outbound policy."""
from bot.points.ledger import Book
from models import Member


def tell_members(book: Book, teller) -> None:
    """One message per member, their notices joined in order, told through `teller.tell` (a
    push's ctx, a job, a bot.telling.Teller)."""
    texts: dict[int, list[str]] = {}
    for member_id, text in book.notices:
        texts.setdefault(member_id, []).append(text)
    for member_id, lines in texts.items():
        teller.tell(book.db.get(Member, member_id), "\n".join(lines))
