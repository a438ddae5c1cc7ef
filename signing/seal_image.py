"""Seal images: drawn by us (red ring, organisation name along the arc, a star, the seal type), or uploaded.

Drawing needs a font with Chinese glyphs. We look for one with fontconfig (`fc-list :lang=zh`) and at the
usual Debian paths (package `fonts-noto-cjk`); without one, drawing fails with a message saying what to
install rather than producing a seal of empty boxes.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from signing.errors import InvalidInput, NotReady

RED = (218, 22, 22, 255)
SIZE = 480  # drawn at this size; about 4 cm at 300 dpi, ample for a stamp a few centimetres wide
RING = SIZE * 0.035  # the ring's stroke width
MAX_UPLOAD_BYTES = 1_000_000
MAX_UPLOAD_SIDE = 2000

KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
NO_FONT = (
    "no font with Chinese glyphs found to draw the seal: install a CJK font (Debian: fonts-noto-cjk) or pass --image"
)


def _fontconfig_candidates() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    # Prefer bold serif faces: they look most like a carved seal.
    return sorted(files, key=lambda f: (("Bold" not in f), ("Serif" not in f), f))


@functools.cache
def find_cjk_font() -> tuple[str, int]:
    """(path, face index) of a font with Simplified Chinese glyphs; raises NotReady when there is none."""
    for path in [*KNOWN_FONTS, *_fontconfig_candidates()]:
        if not Path(path).is_file():
            continue
        # A .ttc holds several faces (JP, KR, SC, TC...); pick the Simplified Chinese one when named.
        best: int | None = None
        for index in range(8):
            try:
                face = ImageFont.truetype(path, 24, index=index)
            except OSError:
                break
            family = " ".join(str(n) for n in face.getname())
            if best is None or " SC" in family:
                best = index
            if " SC" in family:
                break
        if best is not None and _has_glyph(ImageFont.truetype(path, 24, index=best), "章"):
            return path, best
    raise NotReady(NO_FONT)


def _has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    # A font without the glyph draws its .notdef box, the same as for an unassigned private-use code point.
    return bytes(font.getmask(char)) != bytes(font.getmask("\ue000"))


def _font(size: int) -> ImageFont.FreeTypeFont:
    path, index = find_cjk_font()
    return ImageFont.truetype(path, size, index=index)


def _glyph(char: str, font: ImageFont.FreeTypeFont, angle_deg: float, squeeze: float = 1.0) -> Image.Image:
    """One character on a transparent tile, narrowed to `squeeze` of its width and rotated (clockwise by
    `angle_deg`) to stand on the arc."""
    box = font.getbbox(char)
    side = int(max(box[2] - box[0], box[3] - box[1], font.size) * 1.5)
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((side / 2, side / 2), char, font=font, fill=RED, anchor="mm")
    if squeeze < 1.0:
        narrow = tile.resize((max(int(side * squeeze), 1), side), Image.Resampling.LANCZOS)
        tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        tile.alpha_composite(narrow, ((side - narrow.width) // 2, 0))
    return tile.rotate(-angle_deg, resample=Image.Resampling.BICUBIC, expand=False)


@dataclass(frozen=True)
class RingLayout:
    """How a name of `count` characters sits on the ring: the arc it spans (degrees, centred at the top), the
    glyphs' height in pixels, how much they are narrowed, and the radius their centres stand on."""

    count: int
    span: float
    height: int
    squeeze: float
    text_radius: float

    @property
    def pitch(self) -> float:
        """Arc length between neighbouring characters' centres, in pixels."""
        return 2 * math.pi * self.text_radius * self.span / 360 / max(self.count - 1, 1)

    @property
    def glyph_width(self) -> float:
        return self.height * self.squeeze


def ring_layout(count: int) -> RingLayout:
    """Short names get a short arc and large characters; long ones (a full registered company name easily has
    20-30 characters, up to 200 in our records) a wider arc, up to 300 degrees, and characters narrowed to half
    their width before they are made smaller, as seal engravers do."""
    radius = SIZE / 2 - RING / 2 - 2
    largest, smallest_full = SIZE * 0.13, SIZE * 0.075  # glyph heights: the most we use, the least before narrowing
    if count <= 1:
        return RingLayout(count, 0.0, int(largest), 1.0, radius - RING / 2 - largest * 0.68)
    span = min(24.0 * count, 240.0) if count <= 24 else min(300.0, 240.0 + (count - 24) * 60.0 / 16)
    text_radius = radius - RING / 2 - largest * 0.68
    for _ in range(3):  # the radius depends on the height and the height on the radius: settle both
        room = 2 * math.pi * text_radius * span / 360 / (count - 1) * 0.92  # width each character may take
        height = min(largest, room)
        squeeze = 1.0
        if room < smallest_full:
            squeeze = max(0.5, room / smallest_full)
            height = room / squeeze
        text_radius = radius - RING / 2 - height * 0.68
    return RingLayout(count, span, max(int(height), 6), squeeze, text_radius)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382  # golden-ratio inner radius: a regular pentagram
        a = math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(a), cy - r * math.sin(a)))
    draw.polygon(points, fill=RED)


def draw_seal(organisation: str, label: str) -> bytes:
    """A round seal as PNG bytes (transparent background): name clockwise along the upper arc, star, label."""
    name = "".join(organisation.split())
    if not name:
        raise InvalidInput("the organisation name is empty")
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = SIZE / 2
    radius = SIZE / 2 - RING / 2 - 2
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=RED, width=int(RING))

    n = len(name)
    layout = ring_layout(n)
    font = _font(layout.height)
    for i, char in enumerate(name):
        angle = -layout.span / 2 + (layout.span * i / (n - 1) if n > 1 else 0.0)
        tile = _glyph(char, font, angle, layout.squeeze)
        x = c + layout.text_radius * math.sin(math.radians(angle))
        y = c - layout.text_radius * math.cos(math.radians(angle))
        image.alpha_composite(tile, (int(x - tile.width / 2), int(y - tile.height / 2)))

    _star(draw, c, c + SIZE * 0.01, SIZE * 0.14)
    if label:
        label_font = _font(int(SIZE * 0.075))
        draw.text((c, c + SIZE * 0.25), label, font=label_font, fill=RED, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw_signature(name: str) -> bytes:
    """A citizen's visible signature: the name, a rule and the words 电子签名 in ink blue, as PNG bytes."""
    ink = (20, 40, 140, 255)
    width, height = 480, 200
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    clean = " ".join(name.split()) or "?"
    size = min(96, int(width * 0.85 / max(len(clean), 1)))
    draw.text((width / 2, height * 0.42), clean, font=_font(max(size, 16)), fill=ink, anchor="mm")
    draw.line((width * 0.08, height * 0.72, width * 0.92, height * 0.72), fill=ink, width=3)
    draw.text((width / 2, height * 0.86), "电子签名", font=_font(26), fill=ink, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def clean_upload(data: bytes) -> bytes:
    """An uploaded seal image, checked (a PNG, of sane size) and re-encoded so no metadata or trailer survives."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"the seal image is larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG":
                raise InvalidInput("the seal image must be a PNG")
            if max(img.size) > MAX_UPLOAD_SIDE or min(img.size) < 16:
                raise InvalidInput(f"the seal image must be 16 to {MAX_UPLOAD_SIDE} pixels on each side")
            img.load()
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("the seal image is not a readable PNG") from None
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()
