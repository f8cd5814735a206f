"""A staff member's recruiting poster: a background, their QR code, their name and store (Pillow).

The background is the store's own file, POSTER_DIR/<store code>.png (or .jpg/.jpeg), fitted to
the poster by cover-and-crop whatever its size, or a travel-themed default drawn here. A
background that cannot be read falls back to the default with a warning: the staff member
still gets a poster. The QR code is drawn from the `url` WeChat returned for the code
(WECHAT-PLATFORM.md §4.2: render it yourself), on a white card in the lower part of the poster,
with the staff member's name and store under it; store backgrounds leave that part plain.
"""
import io
import logging
import re
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageOps

from bot.fonts import font

log = logging.getLogger(__name__)

SIZE = W, H = 750, 1334                  # a phone screen's proportions; ~0.3-1 MB as PNG
# WeChat takes image media up to 10 MB (§3.4, New_temporary_materials): a 750×1334 RGB PNG
# cannot pass 3.1 MB (its raw size plus PNG's few bytes per row), so no fallback is needed.
MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = ("png", "jpg", "jpeg")
# Bumped whenever the drawing changes, so cached uploads of the old drawing are not reused.
LAYOUT_VERSION = 1

CARD = (135, 770, 615, 1292)             # the white card: left, top, right, bottom
QR_SIZE = 360                            # the square the QR symbol is centred in
QR_BOX = ((W - QR_SIZE) // 2, 812, (W + QR_SIZE) // 2, 812 + QR_SIZE)
SLOGAN = "扫码关注，成为会员享积分"
TAGLINE = "出发吧，每一段旅程都算数"
HINT = "长按识别二维码 · 关注有礼"
INK, TEAL, DEEP = (38, 50, 56), (20, 120, 128), (11, 84, 96)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def background_file(folder: str | Path, store_code: str) -> Path | None:
    """The store's background file, if there is one (a code that is no plain file name: none)."""
    if not _SAFE_CODE.match(store_code or ""):
        return None
    for extension in EXTENSIONS:
        path = Path(folder) / f"{store_code}.{extension}"
        if path.is_file():
            return path
    return None


def background_version(path: Path | None) -> str:
    """What identifies the background drawn: a replaced file reads differently."""
    if path is None:
        return f"default:{LAYOUT_VERSION}"
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}:{LAYOUT_VERSION}"


def compose(url: str, staff_name: str, store_name: str, background: Path | None = None) -> bytes:
    """The poster as PNG bytes: background, QR code of `url`, the staff member's name and store."""
    canvas = _store_background(background) if background is not None else None
    if canvas is None:
        canvas = default_background(store_name)
    draw = ImageDraw.Draw(canvas)
    _card(canvas)
    canvas.paste(qr_image(url, QR_SIZE), QR_BOX[:2])
    _centred(draw, staff_name, QR_BOX[3] + 22, 40, INK, CARD[2] - CARD[0] - 60)
    _centred(draw, store_name, QR_BOX[3] + 78, 26, TEAL, CARD[2] - CARD[0] - 60)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    png = out.getvalue()
    assert len(png) <= MAX_BYTES, len(png)
    return png


def qr_modules(url: str) -> list[list[bool]]:
    """The QR symbol of `url` as rows of dark (True) modules, without the quiet zone."""
    # Level M survives a smudge on a printed poster and keeps the symbol small enough to scan.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def qr_image(url: str, size: int) -> Image.Image:
    """A white `size`² square with the symbol centred at a whole number of pixels per module
    (crisp edges scan best); the card around it gives the quiet zone."""
    modules = qr_modules(url)
    unit = size // len(modules)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    offset = (size - unit * len(modules)) // 2
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                left, top = offset + x * unit, offset + y * unit
                draw.rectangle((left, top, left + unit - 1, top + unit - 1), fill="black")
    return image


def _store_background(path: Path) -> Image.Image | None:
    """The store's file fitted to the poster (cover, then crop the overflow), or None if unreadable."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (W * 2, H * 2))        # a huge JPEG is decoded at a fraction
            image = ImageOps.exif_transpose(image).convert("RGBA")
            fitted = ImageOps.fit(image, SIZE, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        log.warning("poster background unreadable, default used path=%s error=%s", path, exc)
        return None
    canvas = Image.new("RGBA", SIZE, "white")          # transparent parts become white, not black
    canvas.alpha_composite(fitted)
    return canvas.convert("RGB")


def default_background(store_name: str) -> Image.Image:
    """Sky, sun and mountains over a sandy shore, the store's name on a colour band."""
    image = Image.new("RGB", SIZE, (246, 239, 227))
    draw = ImageDraw.Draw(image)
    top, bottom = (94, 195, 232), (223, 243, 251)
    for y in range(0, 720):
        t = y / 719
        draw.line((0, y, W, y), fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    draw.ellipse((540, 330, 690, 480), fill=(255, 211, 107))
    for x, y, w in ((70, 390, 150), (180, 430, 110), (420, 360, 120)):
        draw.ellipse((x, y, x + w, y + w * 0.36), fill=(255, 255, 255))
    draw.polygon([(0, 720), (0, 560), (140, 470), (260, 560), (400, 440), (560, 560), (750, 480),
                  (750, 720)], fill=(127, 191, 176))
    draw.polygon([(0, 720), (0, 640), (180, 560), (330, 650), (470, 580), (620, 660), (750, 610),
                  (750, 720)], fill=(47, 143, 131))
    draw.rectangle((0, 720, W, 752), fill=(168, 218, 228))             # a lake below the hills
    for x in range(30, W, 120):
        draw.arc((x, 728, x + 60, 748), 200, 340, fill=(255, 255, 255), width=3)
    draw.rectangle((0, 0, W, 190), fill=DEEP)
    _centred(draw, store_name, 62, 56, (255, 255, 255), W - 80)
    _centred(draw, SLOGAN, 232, 46, DEEP, W - 60)
    _centred(draw, TAGLINE, 302, 28, INK, W - 60)
    _centred(draw, HINT, 668, 26, (255, 255, 255), W - 60)
    return image


def _card(canvas: Image.Image) -> None:
    """The white card that carries the code, with a soft edge so it reads on any background."""
    shadow = Image.new("L", SIZE, 0)
    ImageDraw.Draw(shadow).rounded_rectangle(tuple(v + d for v, d in zip(CARD, (-4, 2, 4, 10))),
                                             radius=34, fill=90)
    canvas.paste((0, 0, 0), mask=shadow.point(lambda v: v // 2))
    ImageDraw.Draw(canvas).rounded_rectangle(CARD, radius=30, fill="white")


def _centred(draw: ImageDraw.ImageDraw, text: str, top: int, size: int, fill, max_width: int) -> None:
    """`text` centred on the poster at `top`, shrunk (then cut with "…") to fit `max_width`."""
    text = text or ""
    while size > 18 and draw.textlength(text, font=font(size)) > max_width:
        size -= 2
    while len(text) > 1 and draw.textlength(text, font=font(size)) > max_width:
        text = text[:-2] + "…"
    draw.text((W // 2, top), text, font=font(size), fill=fill, anchor="mt")
