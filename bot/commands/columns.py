"""Tables on the operator's terminal: columns aligned by display width, no cell ever cut.

A Chinese character takes two terminal columns, so `f"{name:<10}"` (which counts characters)
shifts every column after a Chinese name; widths here come from wcwidth, and each column is as
wide as its widest cell, so a long store name pushes its column out instead of being cut off.
"""
from wcwidth import wcswidth


def width(text: str) -> int:
    """Terminal columns `text` takes (a control character counts as one)."""
    measured = wcswidth(text)
    return measured if measured >= 0 else len(text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def table(rows: list[list[str]], gap: str = "  ") -> list[str]:
    """The rows as lines, every column (but the last) padded to its widest cell."""
    if not rows:
        return []
    widths = [max(width(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return [gap.join(pad(cell, widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
            .rstrip() for row in rows]
