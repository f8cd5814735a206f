"""PNG files of our codes, drawn here from the `url` WeChat returned (WECHAT-PLATFORM.md §4.2:
the url is the QR content; rendering it ourselves needs no showqrcode download per code).

A PNG is the code (error correction M, the 4-module quiet zone the QR standard asks for) with
its label underneath in the bundled CJK font. One code is written as "<scene>.png", a batch as
"<batch>.zip" holding one "<scene>.png" per code.
"""
import io
import os
import zipfile
from pathlib import Path
from typing import Callable, Iterable

import qrcode
from PIL import Image, ImageDraw

from bot.fonts import font
from bot.qr.codes import LABEL_SEPARATOR

MODULE_PX = 12                  # pixels per QR module: ~45 mm at 300 dpi for a version-3 code
BORDER = 4                      # quiet zone in modules (ISO/IEC 18004 asks for 4)
LABEL_PX = 22                   # label font size
LINE_GAP = 6
MARGIN = 12                     # around the label
MAX_LABEL_LINES = 3


def matrix(url: str) -> list[list[bool]]:
    """The QR modules for `url`, quiet zone included (True = dark)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def _code_image(url: str) -> Image.Image:
    modules = matrix(url)
    size = len(modules)
    small = Image.new("L", (size, size), 255)
    small.putdata([0 if dark else 255 for row in modules for dark in row])
    return small.resize((size * MODULE_PX, size * MODULE_PX), Image.NEAREST)


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    face, lines, line = font(LABEL_PX), [], ""
    for char in text:
        if draw.textlength(line + char, font=face) > width and line:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return lines + [line]


def _lines(draw: ImageDraw.ImageDraw, label: str, width: int) -> list[str]:
    """The label cut into lines that fit `width`: a long store name or channel wraps; past
    MAX_LABEL_LINES the names are cut short ("…"), never the scene at the end."""
    lines = _wrap(draw, label, width)
    if len(lines) <= MAX_LABEL_LINES or LABEL_SEPARATOR not in label:
        return lines[:MAX_LABEL_LINES]
    names, scene = label.rsplit(LABEL_SEPARATOR, 1)
    head = _wrap(draw, names, width)[:MAX_LABEL_LINES - 1]
    head[-1] = head[-1][:-1] + "…"
    return head + [scene]


def render_png(url: str, label: str) -> bytes:
    """The code for `url` with `label` centred underneath, as PNG bytes."""
    code = _code_image(url)
    width = code.width
    measure = ImageDraw.Draw(code)
    lines = _lines(measure, label, width - 2 * MARGIN) if label else []
    face = font(LABEL_PX)
    line_px = LABEL_PX + LINE_GAP
    canvas = Image.new("L", (width, code.height + (len(lines) * line_px + MARGIN if lines else 0)), 255)
    canvas.paste(code, (0, 0))
    draw = ImageDraw.Draw(canvas)
    top = code.height        # below the quiet zone, which scanners need clear
    for number, line in enumerate(lines):
        x = (width - draw.textlength(line, font=face)) / 2
        draw.text((x, top + number * line_px), line, fill=0, font=face)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=False)
    return out.getvalue()


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file, so an interrupted run never leaves half a file."""
    temporary = path.with_name(f".{path.name}.part")
    write(temporary)
    os.replace(temporary, path)


def write_png(out_dir: Path, scene: str, url: str, label: str) -> Path:
    path = out_dir / f"{scene}.png"
    _atomic_write(path, lambda p: p.write_bytes(render_png(url, label)))
    return path


def write_zip(out_dir: Path, batch: str, codes: Iterable[tuple[str, str, str]]) -> Path:
    """`codes`: (scene, url, label) each; PNGs are compressed already, so the zip stores them."""
    path = out_dir / f"{batch}.zip"

    def write(target: Path) -> None:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            for scene, url, label in codes:
                archive.writestr(f"{scene}.png", render_png(url, label))
    _atomic_write(path, write)
    return path
