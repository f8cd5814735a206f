"""A store manager's 报表 in the chat: their store's channel funnel per code over the last 30 China
days and its customer-service times, as text, and the funnel as a chart (workers/reports.py)."""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from bot.qr.stats import bounds
from bot.reports import charts, figures
from models import Store

DAYS = 30
TOP = 8          # codes listed: the text stays well under WeChat's ~2048 bytes (§7)


@dataclass
class StoreReport:
    store: str
    first: date
    last: date
    lines: list[figures.FunnelLine]
    cs: figures.CsTimes

    def totals(self) -> tuple[int, int, int, int]:
        return (sum(ln.scans for ln in self.lines), sum(ln.follows for ln in self.lines),
                sum(ln.members for ln in self.lines), sum(ln.first_purchases for ln in self.lines))


def gather(db: Session, store: Store, today: date) -> StoreReport:
    first = today - timedelta(days=DAYS - 1)
    start, end = bounds(first, today)
    return StoreReport(store.name, first, today, figures.funnel(db, "code", start, end, store_id=store.id),
                       figures.cs_times(db, start, end, store_id=store.id))


def text(report: StoreReport) -> str:
    scans, follows, members, firsts = report.totals()
    out = [f"{report.store} 近 {DAYS} 天（{report.first:%m-%d} 至 {report.last:%m-%d}）渠道漏斗：",
           f"扫码 {scans} → 关注 {follows} → 会员 {members} → 首购 {firsts}"]
    if report.lines:
        out.append("按二维码：")
        out += [f"{i}. {ln.label or ln.name}：扫码 {ln.scans}，关注 {ln.follows}，会员 {ln.members}，首购 {ln.first_purchases}"
                for i, ln in enumerate(report.lines[:TOP], 1)]
    cs = report.cs
    if cs.opened:
        out.append(f"客服：{cs.opened} 个会话，首次响应中位 {_minutes(cs.first_response_median_min)}，"
                   f"解决中位 {_minutes(cs.resolution_median_min)}")
    else:
        out.append("客服：这段时间没有会话")
    return "\n".join(out)


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:g} 分钟"


def chart(report: StoreReport) -> bytes:
    lines = report.lines[:TOP]
    return charts.grouped_bars(f"{report.store} 渠道漏斗（{report.first:%m-%d}~{report.last:%m-%d}）",
                               [ln.label or ln.name for ln in lines],
                               {"扫码": [ln.scans for ln in lines], "关注": [ln.follows for ln in lines],
                                "会员": [ln.members for ln in lines], "首购": [ln.first_purchases for ln in lines]})
