"""The font for Chinese text in images (QR labels, posters, charts).

Pillow's own font has no Chinese glyphs, and a fresh machine may have no CJK font at all, so
the repo carries one: WenQuanYi Micro Hei (Apache-2.0), cut down to the 6 763 characters of
GB 2312 plus ASCII (bot/assets/README.md says how). FONT_PATH points at another font file, e.g.
a full CJK font for rare characters in staff names.
"""
import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

BUNDLED = Path(__file__).parent / "assets" / "wqy-microhei-gb2312.ttf"


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(os.environ.get("FONT_PATH") or str(BUNDLED), size)
