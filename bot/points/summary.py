"""What a member reads in the chat about their points: balance, level, the way up, the history."""
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import CST
from bot.points import pending
from bot.points.ledger import Book
from bot.points.policy import Policy
from models import LedgerEntry, Member, PointsLot
from models.points import POINTS

RECENT = 5
DETAIL = 20
EXPIRY_SCAN = 20      # lots read to total the next expiry day


def overview(book: Book, member: Member) -> str:
    """Balance, level, growth to the next level, what expires soonest, the last entries."""
    policy = book.policy
    lines = [f"当前积分：{member.points}",
             f"会员等级：{policy.level_name(member.level)}（成长值 {member.growth}）"]
    up = policy.next_level(member.growth)
    lines.append(f"再获得 {up['growth'] - member.growth} 成长值可升级为「{up['name']}」" if up
                 else "您已是最高等级")
    soon = expiring(book.db, member.id, book.now)
    if soon:
        lines.append(f"其中 {soon[0]} 积分有效期至 {soon[1]:%Y-%m-%d}")
    lines += waiting_lines(book.db, member.id)
    entries = history(book.db, member.id, RECENT)
    if entries:
        lines += ["", "最近明细："] + [line(e) for e in entries]
        lines.append("回复“积分明细”查看更多")
    return "\n".join(lines)


def waiting_lines(db: Session, member_id: int) -> list[str]:
    """What waits to mature, soonest first: "待生效 80 积分，7 月 15 日到账" (growth too)."""
    return [f"待生效 {amount} {pending.UNIT[ledger]}，{pending.when_text(day)}"
            f"{'到账' if ledger == POINTS else '生效'}" for ledger, amount, day in pending.upcoming(db, member_id)]


def details(book: Book, member: Member) -> str:
    entries = history(book.db, member.id, DETAIL)
    if not entries:
        return "还没有积分记录。回复“帮助”看看怎样获得积分。"
    return "\n".join([f"积分明细（最近 {len(entries)} 条）："] + [line(e) for e in entries])


def history(db: Session, member_id: int, limit: int) -> list[LedgerEntry]:
    """The member's newest points entries (one index range scan: member, ledger, id)."""
    return list(db.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id,
                                                     LedgerEntry.ledger == POINTS)
                           .order_by(LedgerEntry.id.desc()).limit(limit)))


def line(entry: LedgerEntry) -> str:
    return f"{entry.created_at.astimezone(CST):%m-%d} {entry.delta:+d} {entry.reason}"


def expiring(db: Session, member_id: int, now: datetime) -> tuple[int, date] | None:
    """(points, last day) of the member's next expiry, if any of their points expire: the
    soonest few open lots in one index range (a second query only if they all end that day)."""
    open_lots = (PointsLot.member_id == member_id, PointsLot.remaining > 0, PointsLot.expires_at > now)
    rows = db.execute(select(PointsLot.expires_at, PointsLot.remaining).where(*open_lots)
                      .order_by(PointsLot.expires_at).limit(EXPIRY_SCAN)).all()
    if not rows:
        return None
    day = Policy.last_day(rows[0][0])
    if len(rows) == EXPIRY_SCAN and Policy.last_day(rows[-1][0]) == day:
        until = datetime.combine(day + timedelta(days=1), time(), CST)
        return db.scalar(select(func.sum(PointsLot.remaining)).where(*open_lots,
                                                                     PointsLot.expires_at <= until)), day
    return sum(left for expires, left in rows if Policy.last_day(expires) == day), day
