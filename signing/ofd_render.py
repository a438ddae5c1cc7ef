"""A picture of a sealed OFD page: the page's text objects (GB/T 33190 §11.2, §12) and, on top, each seal's
picture from its SESeal placed where its `StampAnnot` says — so staff can look instead of trusting a verdict.

Deliberately small: text objects with their font size and fill colour, path and image objects as outlines;
no embedded fonts, clipping or transforms. Units are millimetres (§7.1), drawn at `dpi`. The font with CJK
glyphs is passed in by the caller (the app finds one with `signing.seal_image.find_cjk_font`).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from PIL import Image, ImageDraw, ImageFont

from signing import gb38540, ofd
from signing.errors import UnprocessableOfd
from signing.ofd import Q

MM_PER_INCH = 25.4


def _numbers(text: str | None, count: int) -> list[float]:
    try:
        values = [float(v) for v in (text or "").split()]
    except ValueError:
        return []
    return values if len(values) == count else []


def _colour(element: ET.Element | None) -> tuple[int, int, int]:
    values = _numbers(element.get("Value") if element is not None else None, 3)
    return (int(values[0]), int(values[1]), int(values[2])) if values else (0, 0, 0)


def _draw_content(draw: ImageDraw.ImageDraw, page: ET.Element, scale: float, font_path: str, font_index: int) -> None:
    for obj in page.iter():
        tag = obj.tag.removeprefix(Q)
        box = _numbers(obj.get("Boundary"), 4)
        if not box:
            continue
        x, y, w, h = (v * scale for v in box)
        if tag == "TextObject":
            size = max(1, int(float(obj.get("Size", "3.5")) * scale))
            font = ImageFont.truetype(font_path, size, index=font_index)
            colour = _colour(obj.find(f"{Q}FillColor"))
            for code in obj.iterfind(f"{Q}TextCode"):
                tx = float(code.get("X", "0")) * scale
                ty = float(code.get("Y", "0")) * scale  # the baseline, from the boundary's top
                draw.text((x + tx, y + ty), code.text or "", font=font, fill=colour, anchor="ls")
        elif tag in ("ImageObject", "PathObject"):
            draw.rectangle((x, y, x + w, y + h), outline=(160, 160, 160))


def render_page(data: bytes, font_path: str, font_index: int = 0, page: int = 1, dpi: int = 96) -> bytes:
    """PNG of page `page` (1 = first) with every seal placed on it."""
    files = ofd.read_package(data)
    layout = ofd.layout(files)
    if not 1 <= page <= len(layout.pages):
        raise UnprocessableOfd(f"the document has {len(layout.pages)} page(s): there is no page {page}")
    target = layout.pages[page - 1]
    scale = dpi / MM_PER_INCH
    size = (max(1, round(layout.width_mm * scale)), max(1, round(layout.height_mm * scale)))
    if size[0] * size[1] > 40_000_000:
        raise UnprocessableOfd("the page is too large to render")
    canvas = Image.new("RGB", size, "white")
    _draw_content(ImageDraw.Draw(canvas), ofd.parse_xml(files, target.path), scale, font_path, font_index)
    if layout.signatures and layout.signatures in files:
        listing = ofd.parse_xml(files, layout.signatures)
        for entry in listing.iterfind(f"{Q}Signature"):
            _place_seal(canvas, files, ofd.resolve(layout.signatures, entry.get("BaseLoc", "")), target.id, scale)
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()


def _place_seal(canvas: Image.Image, files: ofd.Package, sig_path: str, page_id: str, scale: float) -> None:
    if sig_path not in files:
        return
    root = ofd.parse_xml(files, sig_path)
    value = files.get(ofd.resolve(sig_path, (root.findtext(f"{Q}SignedValue") or "SignedValue.dat").strip()))
    if value is None:
        return
    try:
        picture = gb38540.decode_seal(gb38540.decode_signature(value).seal_der).picture
        stamp = Image.open(io.BytesIO(picture))
        stamp.load()
    except (ValueError, OSError):
        return  # verification reports a broken seal; the picture just leaves it out
    for annot in root.iterfind(f"{Q}SignedInfo/{Q}StampAnnot"):
        box = _numbers(annot.get("Boundary"), 4)
        if annot.get("PageRef") != page_id or not box:
            continue
        x, y, w, h = (v * scale for v in box)
        placed = stamp.convert("RGBA").resize((max(1, round(w)), max(1, round(h))))
        canvas.paste(placed, (round(x), round(y)), placed)
