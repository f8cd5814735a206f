"""Orders and refunds from the booking system: purchase awards once per order, refunds reverse
the order's awards in proportion (shared by the HTTP API and the CSV import)."""
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot.clock import CST
from bot.phones import normalize
from bot.points.engine import fire, reverse
from bot.points.ledger import Book
from models import Award, Fan, Member, PendingCredit, Purchase, Refund
from models.points import PAID, POINTS, REFUNDED, WAITING


class PurchaseError(Exception):
    """A request the caller must fix; `code` is stable for machines, the message for people."""

    def __init__(self, code: str, message: str, status: int):
        self.code, self.message, self.status = code, message, status
        super().__init__(f"{code}: {message}")


@dataclass
class Outcome:
    replayed: bool          # the same call was made before: nothing changed
    points: int             # a purchase: awarded (paid or pending); a refund: taken from the balance
    growth: int
    pending: int = 0        # a purchase: points of `points` still waiting; a refund: pending points cancelled
    pending_until: date | None = None   # the last day a purchase's points mature


def record_purchase(book: Book, *, order_id: str, member_id: int, amount_fen: int, paid_at: datetime,
                    payment_method: str, source: str, trip_end: date | None = None) -> Outcome:
    """Store the order and pay its awards (rules that wait for the trip hold them pending until
    `trip_end`, a China date); the same order again changes nothing."""
    book.lock(member_id)        # orders of one member are recorded one at a time
    # The order goes in unless it is there: one statement for a new order, the usual case.
    values = dict(order_id=order_id, member_id=member_id, amount_fen=amount_fen, paid_at=paid_at,
                  payment_method=payment_method, source=source, trip_end=trip_end, created_at=book.now,
                  refunded_fen=0)
    dialect = postgresql if book.db.get_bind().dialect.name == "postgresql" else sqlite
    added = book.db.execute(dialect.insert(Purchase).values(values).on_conflict_do_nothing(
        index_elements=[Purchase.order_id]).returning(Purchase.id)).scalar()
    if added is None:
        found = book.db.scalar(select(Purchase).where(Purchase.order_id == order_id))
        same = (found.member_id, found.amount_fen, found.payment_method, found.paid_at, found.trip_end) == \
               (member_id, amount_fen, payment_method, paid_at, trip_end)
        if not same:
            raise PurchaseError("duplicate_order", f"order {order_id} was already recorded with other "
                                "details; it is paid once", 409)
        return Outcome(True, *_paid(book, _awards(book, order_id)))
    awards = fire(book, member_id, "purchase", "purchase", order_id, occurred_at=paid_at,
                  amount_fen=amount_fen, payment=payment_method, trip_end=trip_end)
    return Outcome(False, *_paid(book, awards))


def _paid(book: Book, awards: list[Award]) -> tuple[int, int, int, date | None]:
    """(points, growth) the order's awards gave, and the points of them still waiting, until when.
    Awards this transaction decided hold only what it held (book.held): no query for them."""
    ids = {a.id for a in awards}
    if all(a in book.decided for a in awards):
        waiting = [(c.amount - c.cancelled, c.matures_at) for c in book.held
                   if c.award_id in ids and c.ledger == POINTS and c.state == WAITING]
    else:
        waiting = book.db.execute(select(PendingCredit.amount - PendingCredit.cancelled, PendingCredit.matures_at)
                                  .where(PendingCredit.award_id.in_(ids), PendingCredit.ledger == POINTS,
                                         PendingCredit.state == WAITING)).all()
    until = max((at for _, at in waiting), default=None)
    return (sum(a.points for a in awards), sum(a.growth for a in awards), sum(n for n, _ in waiting),
            until.astimezone(CST).date() if until else None)


def _awards(book: Book, order_id: str) -> list[Award]:
    return list(book.db.scalars(select(Award).where(Award.source_type == "purchase",
                                                    Award.source_id == order_id).order_by(Award.id)))


def refund_purchase(book: Book, *, order_id: str, refund_id: str, amount_fen: int | None,
                    source: str | None = None) -> Outcome:
    """Refund all that is left of an order (amount None) or part of it; its awards are reversed
    in proportion to the refunded share of the order. The same refund id again changes nothing
    and answers what the refund reversed. `source`: the calling integration (None: operator)."""
    purchase = book.db.scalar(select(Purchase).where(Purchase.order_id == order_id))
    # An integration refunds its own orders (and imported ones): never another system's.
    if purchase is None or source not in (None, purchase.source) and purchase.source != "import":
        raise PurchaseError("unknown_order", f"no order {order_id}", 404)
    book.lock(purchase.member_id)        # serialises refunds of one order (and all of its member's points)
    book.db.refresh(purchase)
    found = book.db.scalar(select(Refund).where(Refund.purchase_id == purchase.id,
                                                Refund.refund_id == refund_id))
    if found is not None:
        if amount_fen is not None and amount_fen != found.amount_fen:
            raise PurchaseError("duplicate_refund", f"refund {refund_id} was already made for "
                                f"{found.amount_fen / 100:.2f} yuan", 409)
        return Outcome(True, found.points_reversed, found.growth_reversed, found.points_cancelled)
    left = purchase.amount_fen - purchase.refunded_fen
    amount = left if amount_fen is None else amount_fen
    if amount <= 0:
        raise PurchaseError("nothing_to_refund", f"order {order_id} is already fully refunded", 422)
    if amount > left:
        raise PurchaseError("over_refund", f"order {order_id} has {left / 100:.2f} yuan left to refund, "
                            f"not {amount / 100:.2f}", 422)
    before, after = purchase.refunded_fen, purchase.refunded_fen + amount
    purchase.refunded_fen = after
    refund = Refund(purchase_id=purchase.id, refund_id=refund_id, amount_fen=amount, created_at=book.now)
    book.db.add(refund)
    book.db.flush()
    points = growth = 0
    for award in _awards(book, order_id):
        # Cumulative shares, so partial refunds that add up to the order reverse all of it.
        share = lambda paid: paid * after // purchase.amount_fen - paid * before // purchase.amount_fen
        taken, grown = reverse(book, award, share(award.points), share(award.growth),
                               cause=f"refund:{refund.id}", reason=f"订单 {order_id} 退款")
        points, growth = points + taken, growth + grown
        if after == purchase.amount_fen and award.status == PAID:
            award.status = REFUNDED
    cancelled = sum(book.cancelled.get(a.id, (0, 0))[0] for a in _awards(book, order_id))
    refund.points_reversed, refund.growth_reversed, refund.points_cancelled = points, growth, cancelled
    return Outcome(False, points, growth, cancelled)


def parse_amount(value) -> int | None:
    """Yuan (a number or text, at most two decimals, > 0) as fen; None when not that."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        yuan = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    # The bound first: quantize raises on a value past the context's 28 digits ("1e30").
    if not yuan.is_finite() or yuan <= 0 or yuan > 10**9 or yuan != yuan.quantize(Decimal("0.01")):
        return None
    return int(yuan * 100)


def parse_date(value) -> date | None:
    """A China date, YYYY-MM-DD; None when not that."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_time(value) -> datetime | None:
    """ISO 8601; a time without an offset is China time (the booking system's clock)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=CST)).astimezone(timezone.utc)
    except (ValueError, OverflowError):      # OverflowError: year 1 in China time is before UTC's year 1
        return None


def find_member(db, phone=None, openid=None) -> int | None:
    """The member with this phone, or behind this openid (a fan of any of our accounts)."""
    if phone:
        number = normalize(str(phone))
        return db.scalar(select(Member.id).where(Member.phone == number)) if number else None
    if openid:
        return db.scalar(select(Fan.member_id).where(Fan.openid == str(openid),
                                                     Fan.member_id.is_not(None)).limit(1))
    return None
