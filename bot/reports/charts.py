"""The reports' PNG charts, drawn by matplotlib with the bundled CJK font (bot/fonts.py) registered
through font_manager, so Chinese labels render on a machine without CJK fonts."""
import io
import os
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")        # no display: files only
from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from bot.fonts import BUNDLED  # noqa: E402

COLOURS = ("#2563eb", "#10b981", "#f59e0b", "#ef4444")


@lru_cache(maxsize=1)
def cjk_family() -> str:
    path = os.environ.get("FONT_PATH") or str(BUNDLED)
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def _figure(title: str, width: float = 7.5, height: float = 4.5):
    plt.rcParams["font.family"] = cjk_family()
    plt.rcParams["axes.unicode_minus"] = False    # the font has no U+2212
    fig, ax = plt.subplots(figsize=(width, height), dpi=144)
    ax.set_title(title, fontsize=14)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def grouped_bars(title: str, groups: list[str], series: dict[str, list[int]]) -> bytes:
    """Bars per group, one colour per series, each bar labelled with its value."""
    fig, ax = _figure(title, width=max(7.5, 1.2 * len(groups) + 3))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + i * width - 0.4 + width / 2 for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=name, color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(groups)), groups, fontsize=9)
    ax.legend(frameon=False)
    return _png(fig)


def trend(title: str, days: list[str], follows: list[int], unfollows: list[int], following: list[int]) -> bytes:
    """Daily follows and unfollows as bars, the following count as a line on its own axis."""
    fig, ax = _figure(title, width=9)
    xs = range(len(days))
    ax.bar([x - 0.2 for x in xs], follows, 0.4, label="关注", color=COLOURS[0])
    ax.bar([x + 0.2 for x in xs], unfollows, 0.4, label="取关", color=COLOURS[3])
    ax.set_xticks(list(xs)[::max(1, len(days) // 10)], days[::max(1, len(days) // 10)], fontsize=8)
    line_ax = ax.twinx()
    line_ax.plot(list(xs), following, color=COLOURS[1], marker="o", markersize=3, label="粉丝总数")
    line_ax.spines[["top"]].set_visible(False)
    handles = ax.get_legend_handles_labels()[0] + line_ax.get_legend_handles_labels()[0]
    ax.legend(handles, ["关注", "取关", "粉丝总数"], frameon=False, loc="upper left")
    return _png(fig)


# Each report's chart, drawn alike for the CLI's --png and the admin API's .png.

def funnel_chart(first, last, lines) -> bytes:
    """Scans, follows, members and first purchases per store or code (bot/reports/figures.py)."""
    return grouped_bars(f"渠道漏斗 {first:%m-%d}~{last:%m-%d}", [_short(ln) for ln in lines], {
        "扫码": [ln.scans for ln in lines], "关注": [ln.follows for ln in lines],
        "会员": [ln.members for ln in lines], "首购": [ln.first_purchases for ln in lines]})


def _short(line) -> str:
    """A bar's label: the code's or store's name; none of ours in two words (the axis is narrow)."""
    return "无渠道" if line.key is None else (line.label or line.name)


POINTS_TITLE = "积分 发放/消耗/过期"        # the series are the title's three parts
POINTS_SERIES = dict(zip(("issued", "spent", "expired"), POINTS_TITLE.split()[1].split("/")))
MALL_TITLE = "积分商城兑换"
MALL_SERIES = {"orders": "兑换单数", "points": "积分"}


def monthly_chart(title: str, rows: dict[str, dict[str, int]], names: dict[str, str]) -> bytes:
    """One group of bars per month, one series per figure (`names`: figure -> label)."""
    return grouped_bars(title, list(rows), {label: [v[k] for v in rows.values()] for k, label in names.items()})


def followers_chart(slug: str, days, title: str | None = None) -> bytes:
    return trend(title or f"{slug} 粉丝趋势（近 {len(days)} 天）", [f"{d.day:%m-%d}" for d in days],
                 [d.follows for d in days], [d.unfollows for d in days], [d.following for d in days])


def cs_chart(first, last, t) -> bytes:
    """Median and mean minutes to the first response and to resolution (none yet: 0)."""
    return grouped_bars(f"客服时长（分钟）{first:%m-%d}~{last:%m-%d}", ["首次响应", "解决"], {
        "中位": [t.first_response_median_min or 0, t.resolution_median_min or 0],
        "平均": [t.first_response_mean_min or 0, t.resolution_mean_min or 0]})


def surveys_chart(first, last, rows) -> bytes:
    """Links sent and responses completed per guide."""
    return grouped_bars(f"调查完成 {first:%m-%d}~{last:%m-%d}", [guide for guide, _, _ in rows], {
        "发送": [sent for _, sent, _ in rows], "完成": [done for _, _, done in rows]})
