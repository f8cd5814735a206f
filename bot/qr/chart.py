"""The 拉新 chart a store manager gets: the store's follows per day over the last 30
China days, and its best codes by net follows. Pillow only; Chinese in the bundled font.

`gather` reads the figures (bot/qr/stats.py, the store's codes only); `render` draws them. The
data is kept apart from the drawing so what a chart shows can be checked without reading pixels.
"""
import io
from dataclasses import dataclass
from datetime import date, timedelta

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from bot.fonts import font
from bot.qr import stats
from models import Store

DAYS = 30
TOP = 8
WIDTH = 1080
NEW, BACK, GONE = (37, 99, 235), (16, 185, 129), (239, 68, 68)      # blue, green, red
INK, MUTED, GRID, PAPER, BAND = (17, 24, 39), (107, 114, 128), (229, 231, 235), (255, 255, 255), (243, 244, 246)
PAD = 48
PLOT_TOP, PLOT_H = 330, 460          # the bar chart's box
TABLE_TOP = PLOT_TOP + PLOT_H + 150
ROW_H = 58


@dataclass
class ChartData:
    store_name: str
    store_code: str
    first: date
    last: date
    days: list[stats.Day]
    top: list[stats.Line]          # the store's codes, best net follows first (at most TOP)
    total: stats.Counts

    @property
    def empty(self) -> bool:
        return not any(d.follows or d.refollows or d.unfollows for d in self.days) and not self.top


def gather(db: Session, store: Store, today: date, days: int = DAYS) -> ChartData:
    """The store's figures for the `days` China dates ending `today` (its codes on any account:
    a store's codes are wherever the group issues codes)."""
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    start, end = stats.bounds(span[0], span[-1])
    report = stats.report(db, None, by="code", store_id=store.id, start=start, end=end)
    return ChartData(store.name, store.code, span[0], span[-1], stats.daily(db, span, store_id=store.id),
                     report.lines[:TOP], report.total)


def code_label(line: stats.Line) -> tuple[str, str]:
    """Who a code is (its staff member and channel, else the store's own code), and its scene."""
    return " / ".join(p for p in (line.staff, line.channel) if p) or "门店码", f"（{line.name}）"


def summary(data: ChartData) -> str:
    """The chart's figures as text, for an account that cannot send images (§5.1)."""
    follows, back = sum(d.follows for d in data.days), sum(d.refollows for d in data.days)
    gone = sum(d.unfollows for d in data.days)
    head = (f"{data.store_name} 近 {len(data.days)} 天（{data.first:%m-%d} 至 {data.last:%m-%d}）拉新：新关注 {follows}，"
            f"回流 {back}，取关 {gone}，净增 {follows + back - gone}。")
    if data.empty:
        return head + "\n本店的二维码还没有人扫码关注。"
    lines = [f"{rank}. {''.join(code_label(line))} 扫码 {line.counts.scans}，净增 {line.counts.net}"
             for rank, line in enumerate(data.top, 1)]
    return "\n".join([head, "本店二维码排行（按净增）："] + lines)


def render(data: ChartData) -> bytes:
    height = TABLE_TOP + 70 + ROW_H * len(data.top) + 90 if data.top else PLOT_TOP + PLOT_H + 110
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((PAD, 40), f"{data.store_name} 拉新数据", font=font(52), fill=INK)
    draw.text((PAD, 112), f"近 {len(data.days)} 天：{data.first:%Y-%m-%d} 至 {data.last:%Y-%m-%d}（北京时间）",
              font=font(28), fill=MUTED)
    _summary(draw, data)
    if data.empty:
        _nothing(draw)
    else:
        _bars(draw, data.days)
    if data.top:
        _table(draw, data.top)
    draw.text((PAD, height - 60), "净增 = 新关注 + 回流关注 - 取关；取关记在粉丝首次关注时扫的二维码上",
              font=font(24), fill=MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _summary(draw: ImageDraw.ImageDraw, data: ChartData) -> None:
    """Four figures in a band: new, returning, gone, net."""
    follows = sum(d.follows for d in data.days)
    back = sum(d.refollows for d in data.days)
    gone = sum(d.unfollows for d in data.days)
    boxes = [("新关注", follows, NEW), ("回流关注", back, BACK), ("取关", gone, GONE),
             ("净增", follows + back - gone, INK)]
    box_w = (WIDTH - 2 * PAD - 3 * 20) // 4
    for i, (name, value, colour) in enumerate(boxes):
        x = PAD + i * (box_w + 20)
        draw.rounded_rectangle((x, 170, x + box_w, 290), radius=14, fill=BAND)
        draw.text((x + 22, 182), name, font=font(26), fill=MUTED)
        draw.text((x + 22, 220), f"{value:+d}" if name == "净增" and value else str(value), font=font(52),
                  fill=colour)


def _nothing(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle((PAD, PLOT_TOP, WIDTH - PAD, PLOT_TOP + PLOT_H), outline=GRID, width=2)
    lines = ["近 30 天本店的二维码还没有人扫码关注", "员工发送“海报”即可获取带专属二维码的推广海报"]
    for i, text in enumerate(lines):
        face = font(36 if i == 0 else 28)
        width = draw.textlength(text, font=face)
        draw.text(((WIDTH - width) / 2, PLOT_TOP + PLOT_H / 2 - 50 + i * 64), text, font=face,
                  fill=INK if i == 0 else MUTED)


def _scale(days: list[stats.Day]) -> tuple[int, int]:
    """(top, step) of the y axis: a round step, room above the highest bar."""
    high = max([d.follows + d.refollows for d in days] + [d.unfollows for d in days] + [1])
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000,
                            20_000, 50_000) if high / s <= 5) if high <= 250_000 else high // 5 + 1
    return step * -(-high // step), step


def _bars(draw: ImageDraw.ImageDraw, days: list[stats.Day]) -> None:
    """Per day: new (blue) and returning (green) follows stacked up, unfollows (red) down."""
    up_max, step = _scale(days)
    down_max = step * -(-max([d.unfollows for d in days] + [0]) // step)
    left, right = PAD + 70, WIDTH - PAD
    unit = PLOT_H / (up_max + down_max)
    zero = PLOT_TOP + up_max * unit
    label = font(22)
    for value in range(-down_max, up_max + 1, step):
        y = zero - value * unit
        draw.line((left, y, right, y), fill=INK if value == 0 else GRID, width=2 if value == 0 else 1)
        text = str(abs(value))
        draw.text((left - 12 - draw.textlength(text, font=label), y - 13), text, font=label, fill=MUTED)
    slot = (right - left) / len(days)
    bar = max(4, slot * 0.62)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        top_new = zero - day.follows * unit
        if day.follows:
            draw.rectangle((x, top_new, x + bar, zero - 1), fill=NEW)
        if day.refollows:
            draw.rectangle((x, top_new - day.refollows * unit, x + bar, top_new - (1 if day.follows else 0)),
                           fill=BACK)
        if day.unfollows:
            draw.rectangle((x, zero + 1, x + bar, zero + day.unfollows * unit), fill=GONE)
        if i % 5 == 0 or i == len(days) - 1:
            text = f"{day.day:%m-%d}"
            draw.text((x + bar / 2 - draw.textlength(text, font=label) / 2, PLOT_TOP + PLOT_H + 10), text,
                      font=label, fill=MUTED)
    legend_y, x = PLOT_TOP + PLOT_H + 52, left
    for name, colour in (("新关注", NEW), ("回流关注", BACK), ("取关（向下）", GONE)):
        draw.rectangle((x, legend_y + 4, x + 26, legend_y + 30), fill=colour)
        draw.text((x + 36, legend_y), name, font=font(26), fill=INK)
        x += 72 + draw.textlength(name, font=font(26)) + 20


# (heading, right edge in pixels; 0: the left-aligned first column)
COLUMNS = [("渠道码", 0), ("扫码", 640), ("新关注", 760), ("回流", 860), ("取关", 950), ("净增", WIDTH - PAD)]


def _table(draw: ImageDraw.ImageDraw, top: list[stats.Line]) -> None:
    """The store's codes by net follows: who (staff / channel), scans, follows, unfollows, net."""
    draw.text((PAD, TABLE_TOP - 10), f"本店二维码排行（按净增，前 {TOP} 名）", font=font(34), fill=INK)
    y = TABLE_TOP + 50
    head = font(24)
    for name, x in COLUMNS:
        draw.text((_column_x(name, x, head, draw), y), name, font=head, fill=MUTED)
    y += 40
    body = font(28)
    for rank, line in enumerate(top, 1):
        if rank % 2:
            draw.rectangle((PAD - 8, y, WIDTH - PAD + 8, y + ROW_H - 6), fill=BAND)
        c = line.counts
        who, scene = code_label(line)
        room = 500 - draw.textlength(f"{rank}. {scene}", font=body)      # the scene is never cut
        cells = [f"{rank}. {_fit(draw, who, body, room)}{scene}", c.scans, c.follows, c.refollows,
                 c.unfollows, f"{c.net:+d}" if c.net else "0"]
        for (name, x), value in zip(COLUMNS, cells):
            colour = GONE if name == "净增" and c.net < 0 else INK
            draw.text((_column_x(str(value), x, body, draw), y + 10), str(value), font=body, fill=colour)
        y += ROW_H


def _column_x(text: str, x: int, face, draw: ImageDraw.ImageDraw) -> float:
    """Numbers are right-aligned with their heading at the column's right edge; the first
    column is left-aligned."""
    if x == 0:
        return PAD
    return x - draw.textlength(text, font=face)


def _fit(draw: ImageDraw.ImageDraw, text: str, face, width: int) -> str:
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text + "…"
